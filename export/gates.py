"""The quality gates in front of a standalone export (`mollie-ledger export`).

Inside a Dagster run the blocking asset checks stop exports on their own. A standalone export
runs from what is already in the warehouse, so it reads the gate results the quality checks
append to `quality.gate_results` and refuses when:
- no gate has run yet (the table is empty): the data was never checked;
- the latest result of any check failed with severity ERROR.
A failed WARN check does not block (it is reported).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

GATE_TABLE = "quality.gate_results"
_DDL = (
    "create schema if not exists quality",
    f"""create table if not exists {GATE_TABLE} (
        run_id varchar, checked_at timestamptz, asset_key varchar, check_name varchar,
        passed boolean, severity varchar, failed_expectations integer)""",
)


class GateRefusal(RuntimeError):
    """The export must not run: the message says why and what to do."""


@dataclass(frozen=True)
class GateResult:
    run_id: str
    checked_at: datetime
    asset_key: str
    check_name: str
    passed: bool
    severity: str
    failed_expectations: int | None

    @property
    def blocks(self) -> bool:
        return not self.passed and (self.severity or "").upper() == "ERROR"

    def __str__(self) -> str:
        state = "passed" if self.passed else f"FAILED ({self.failed_expectations} expectations)"
        return f"{self.asset_key} {self.check_name} [{self.severity}] {state} at {self.checked_at}"


def ensure_gate_table(con: duckdb.DuckDBPyConnection) -> None:
    for statement in _DDL:
        con.execute(statement)


def latest_results(con: duckdb.DuckDBPyConnection) -> list[GateResult]:
    """The latest result of every (asset, check)."""
    ensure_gate_table(con)
    return read_latest_results(con)


def read_latest_results(con: duckdb.DuckDBPyConnection) -> list[GateResult]:
    """The latest result of every (asset, check), creating nothing: [] before any gate ran.

    Works on a read-only connection (the metrics read the warehouse that way).
    """
    exists = con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'quality' and table_name = 'gate_results'"
    ).fetchone()[0]
    if not exists:
        return []
    rows = con.execute(f"""
        select run_id, checked_at, asset_key, check_name, passed, severity, failed_expectations
        from {GATE_TABLE}
        qualify row_number() over (partition by asset_key, check_name
                                   order by checked_at desc) = 1
        order by asset_key, check_name
    """).fetchall()
    return [GateResult(*r) for r in rows]


def require_gates_passed(con: duckdb.DuckDBPyConnection) -> list[GateResult]:
    """The latest results, or GateRefusal when the export must not run."""
    results = latest_results(con)
    if not results:
        raise GateRefusal(
            f"no quality gate has run on this warehouse yet ({GATE_TABLE} is empty), so the "
            "data is unchecked: run `mollie-ledger run` first, then export"
        )
    blocking = [r for r in results if r.blocks]
    if blocking:
        listed = "\n  ".join(str(r) for r in blocking)
        raise GateRefusal(
            f"export refused: {len(blocking)} quality gate(s) failed with severity ERROR in "
            f"their latest run:\n  {listed}\nNothing was written or posted. Fix the data (see "
            "marts.reconciliation_exceptions and the Data Docs), then `mollie-ledger run` again."
        )
    return results
