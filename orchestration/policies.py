"""Who owns which asset and how fresh the marts must be: set here once, for every asset.

Applied centrally (by the asset key's first part, i.e. the warehouse schema) rather than in each
asset module, so a new model or table is covered without anyone remembering to add it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

import dagster as dg

# The data team keeps the pipeline (raw loads, staging, intermediate) healthy; finance answers
# for what the marts, exports and the report say.
OWNERS = {
    "mollie": "team:data",
    "bank": "team:data",
    "staging": "team:data",
    "intermediate": "team:data",
    "marts": "team:finance",
    "export": "team:finance",
    "report": "team:finance",
}

# The marts are rebuilt once a day (the 06:00 schedule): 26 h warns when one daily run was missed
# or ran late; 36 h fails when the books are a day and a half behind.
MART_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(hours=36), warn_window=timedelta(hours=26)
)


def _apply(spec: dg.AssetSpec) -> dg.AssetSpec:
    layer = spec.key.path[0]
    owner = OWNERS.get(layer)
    spec = spec.replace_attributes(owners=[owner]) if owner else spec
    if layer == "marts":
        spec = dg.apply_freshness_policy(spec, MART_FRESHNESS)
    return spec


def with_policies(
    assets: Iterable[dg.AssetsDefinition | dg.AssetSpec],
) -> list[dg.AssetsDefinition | dg.AssetSpec]:
    """Every asset with its owner and, for the marts, the freshness policy."""
    return list(dg.map_asset_specs(_apply, assets))
