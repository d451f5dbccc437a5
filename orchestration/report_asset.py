"""The financial report as a Dagster asset, `["report", "financial_report"]` (group exports).

Downstream of the marts it reads, so each run (the daily job, `mollie-ledger run`) renders it
after they are rebuilt, and a failed blocking gate on one of them stops it like the exports:
the page never shows data the gates refused.
"""

# No `from __future__ import annotations`: Dagster reads the `context` annotation at definition
# time and does not resolve string annotations.

from datetime import UTC, datetime

import dagster as dg

from orchestration.organizations import PARTITIONS, WAREHOUSE_POOL
from orchestration.warehouse import Warehouse
from reporting.report import ENV_REPORT_DIR, MARTS, write_report

REPORT_KEY = dg.AssetKey(["report", "financial_report"])


@dg.asset(
    key=REPORT_KEY,
    deps=[dg.AssetKey(["marts", name]) for name in MARTS],
    group_name="exports",
    kinds={"html"},
    partitions_def=PARTITIONS,
    pool=WAREHOUSE_POOL,
    description="A static HTML page from the marts for people who do not open SQL: daily "
    "overview, payouts, fees, MRR movement, open chargebacks, findings. Written to "
    f"{ENV_REPORT_DIR} (default data/report/index.html); self-contained, charts inline.",
)
def financial_report(
    context: dg.AssetExecutionContext, warehouse: Warehouse
) -> dg.MaterializeResult:
    scope = warehouse.of(context)
    with scope.connect(prepared=False) as con:
        path = write_report(con, scope.env.get(ENV_REPORT_DIR), generated_at=datetime.now(UTC))
    context.log.info(f"financial report written to {path}")
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(path.resolve())),
            "bytes": path.stat().st_size,
        }
    )
