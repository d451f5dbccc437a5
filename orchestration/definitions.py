"""The Dagster entry point: `dagster dev -m orchestration.definitions` (or `mollie-ledger ui`).

It stays short: each layer contributes its own module of assets (and later checks, jobs,
schedules and sensors); this file only merges them with the shared resources. Nothing heavy is
imported here (Great Expectations, for one, is imported lazily by its checks).
"""

from __future__ import annotations

import dagster as dg

from orchestration.bank_assets import bank_statement_lines
from orchestration.export_assets import export_assets
from orchestration.extract_assets import extract_assets
from orchestration.extract_assets import resources as extract_resources
from orchestration.transform_assets import transform_assets
from orchestration.warehouse import Warehouse
from orchestration.webhook_sensor import webhook_sensor

defs = dg.Definitions(
    assets=[extract_assets, bank_statement_lines, *transform_assets, *export_assets],
    resources={**extract_resources, "warehouse": Warehouse()},
    sensors=[webhook_sensor],
)
