"""Where the project keeps its files: the DuckDB warehouse and the bank-statement drop folder.

Every stage and the orchestration on top of them agree on these two places, so they live in the
lowest stage, importable without pulling in dlt or Dagster.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_DB = "MOLLIE_LEDGER_DB"
DEFAULT_DB = "data/mollie_ledger.duckdb"
ENV_BANK_DIR = "MOLLIE_LEDGER_BANK_DIR"
DEFAULT_BANK_DIR = "data/bank"


def warehouse_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The DuckDB file: the argument, else `MOLLIE_LEDGER_DB`, else data/mollie_ledger.duckdb."""
    return Path(path or os.environ.get(ENV_DB) or DEFAULT_DB)


def bank_folder(path: str | os.PathLike[str] | None = None) -> Path:
    """The bank statements' drop folder: argument, else `MOLLIE_LEDGER_BANK_DIR`, else data/bank."""
    return Path(path or os.environ.get(ENV_BANK_DIR) or DEFAULT_BANK_DIR)
