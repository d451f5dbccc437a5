"""The published warehouse as a Dagster asset, `["export", "published_warehouse"]` (group exports).

Downstream of every model (so of every blocking gate on them) and of the exports: it runs only
at the end of a run whose gates passed and whose exports went through, and a failed or gated
run skips it, leaving the last good publication in place (its last materialisation still shows
which run that is). The work is export.publish.
"""

# No `from __future__ import annotations`: Dagster reads the `context` annotation at definition
# time and does not resolve string annotations.

import dagster as dg

from export.publish import ENV_PUBLISHED_DB, PUBLISHED_SCHEMAS, publish, published_path
from orchestration.organizations import PARTITIONS, WAREHOUSE_POOL
from orchestration.warehouse import Warehouse
from transforms.models import discover

PUBLISH_KEY = dg.AssetKey(["export", "published_warehouse"])
PUBLISH_DEPS = [
    *sorted(dg.AssetKey([m.schema, m.name]) for m in discover()),
    dg.AssetKey(["export", "csv"]),
    dg.AssetKey(["export", "frappe"]),
]


@dg.asset(
    key=PUBLISH_KEY,
    deps=PUBLISH_DEPS,
    group_name="exports",
    kinds={"duckdb"},
    partitions_def=PARTITIONS,
    pool=WAREHOUSE_POOL,
    description=f"A read-only copy of {' and '.join(PUBLISHED_SCHEMAS)} for analysts, in "
    f"{ENV_PUBLISHED_DB} (default beside the warehouse, <name>.published.duckdb): written as a "
    "new file and renamed into place, so open sessions keep the copy they opened and never "
    "block a run. Skipped when a gate or an export failed: the last good copy stays.",
)
def published_warehouse(
    context: dg.AssetExecutionContext, warehouse: Warehouse
) -> dg.MaterializeResult:
    scope = warehouse.of(context)
    target = published_path(scope.path, scope.env)
    with scope.connect(prepared=False) as con:
        publication = publish(con, target, run_id=context.run_id)
    context.log.info(
        f"published {len(publication.tables)} tables, {publication.rows} rows to {target} "
        f"in {publication.seconds:.1f} s"
    )
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(target.resolve())),
            "published_at": publication.published_at.isoformat(),
            "tables": len(publication.tables),
            "rows": publication.rows,
            "rows_per_table": dg.MetadataValue.json(publication.tables),
            "bytes": target.stat().st_size,
            "seconds": round(publication.seconds or 0.0, 2),
        }
    )
