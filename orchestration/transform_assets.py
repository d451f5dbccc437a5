"""Dagster assets for the SQL models: one asset per `.sql` file of transforms/.

Keys are `[schema, table]`; dependencies come from the SQL (transforms.models), groups from the
file's header; the description is the file's header comment (its grain first). A mart's
materialisation also carries its money totals, a summary and (some) a chart: asset_metadata.
"""

# No `from __future__ import annotations`: Dagster reads the `context` annotation at definition
# time and does not resolve string annotations.

import dagster as dg

from orchestration.asset_metadata import mart_metadata
from orchestration.organizations import PARTITIONS, WAREHOUSE_POOL
from orchestration.warehouse import Warehouse
from transforms.build import build_model
from transforms.models import Model, discover

# Tables produced outside transforms/ that models may read: raw Mollie (dlt) and bank lines.
EXTERNAL_SCHEMAS = ("mollie", "bank", "staging", "intermediate", "marts")


def _model_asset(model: Model) -> dg.AssetsDefinition:
    deps = sorted(
        dg.AssetKey([schema, table]) for schema, table in model.deps if schema in EXTERNAL_SCHEMAS
    )

    @dg.asset(
        key=[model.schema, model.name],
        deps=deps,
        group_name=model.group,
        kinds={"duckdb", "sql"},
        description=model.description,
        metadata={
            "grain": model.grain,
            "sql_file": str(model.path.relative_to(model.path.parents[2])),
            "dagster/table_name": f"{model.schema}.{model.name}",
        },
        partitions_def=PARTITIONS,
        pool=WAREHOUSE_POOL,
    )
    def _build(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
        with warehouse.of(context).connect() as con:
            result = build_model(con, model)
            extra = mart_metadata(con, model.name, result.rows) if model.schema == "marts" else {}
        context.log.info(
            f"{model.schema}.{model.name}: {result.rows} rows in {result.seconds:.2f}s"
        )
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": result.rows,
                "build_seconds": round(result.seconds, 3),
                **extra,
            }
        )

    return _build


transform_assets = [_model_asset(m) for m in discover()]
