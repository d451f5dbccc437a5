"""The bank-statement drop folder as a Dagster asset (`bank/statement_lines`)."""

# No `from __future__ import annotations`: Dagster reads the `context` annotation at definition
# time and does not resolve string annotations.

import os
from pathlib import Path

import dagster as dg

from extract.bank import load_bank_statements
from extract.endpoint import has_token, sandbox_config
from orchestration.warehouse import Warehouse

ENV_BANK_DIR = "MOLLIE_LEDGER_BANK_DIR"
DEFAULT_BANK_DIR = "data/bank"


def bank_folder() -> Path:
    return Path(os.environ.get(ENV_BANK_DIR) or DEFAULT_BANK_DIR)


@dg.asset(
    key=["bank", "statement_lines"],
    group_name="extract",
    kinds={"duckdb"},
    description="One row per bank statement line from the drop folder (CAMT.053 XML or CSV), "
    f"{ENV_BANK_DIR} (default {DEFAULT_BANK_DIR}). Payouts are matched against it.",
    pool="duckdb",
)
def bank_statement_lines(
    context: dg.AssetExecutionContext, warehouse: Warehouse
) -> dg.MaterializeResult:
    folder = bank_folder()
    if not has_token():
        # The built-in sandbox's merchant "exports" its bank statement too, so that a run with
        # nothing configured shows payouts matched to deposits.
        from sandbox.bank import write_camt053
        from sandbox.generate import build_world

        written = write_camt053(build_world(sandbox_config()), folder)
        context.log.info(f"no MOLLIE_ACCESS_TOKEN: wrote the sandbox's CAMT.053 to {written}")
    with warehouse.connect(prepared=False) as con:
        counts = load_bank_statements(con, folder)
    context.log.info(f"bank statements from {folder}: {counts or 'none'}")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": sum(counts.values()),
            "files": dg.MetadataValue.json(counts),
            "folder": str(folder),
        }
    )
