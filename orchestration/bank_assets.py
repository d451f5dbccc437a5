"""The bank-statement drop folder as a Dagster asset (`bank/statement_lines`)."""

# No `from __future__ import annotations`: Dagster reads the `context` annotation at definition
# time and does not resolve string annotations.

import dagster as dg

from extract.bank import load_bank_statements
from extract.paths import DEFAULT_BANK_DIR, ENV_BANK_DIR, bank_folder
from orchestration.organizations import PARTITIONS, WAREHOUSE_POOL
from orchestration.warehouse import Warehouse


@dg.asset(
    key=["bank", "statement_lines"],
    group_name="extract",
    kinds={"duckdb"},
    description="One row per bank statement line from the drop folder (CAMT.053 XML or CSV), "
    f"{ENV_BANK_DIR} (default {DEFAULT_BANK_DIR}). Payouts are matched against it.",
    partitions_def=PARTITIONS,
    pool=WAREHOUSE_POOL,
)
def bank_statement_lines(
    context: dg.AssetExecutionContext, warehouse: Warehouse
) -> dg.MaterializeResult:
    scope = warehouse.of(context)
    folder = bank_folder(scope.env.get(ENV_BANK_DIR))
    with scope.connect(prepared=False) as con:
        counts = load_bank_statements(con, folder)
    context.log.info(f"bank statements from {folder}: {counts or 'none'}")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": sum(counts.values()),
            "files": dg.MetadataValue.json(counts),
            "folder": str(folder),
        }
    )
