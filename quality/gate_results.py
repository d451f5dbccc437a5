"""The quality gates' results: `quality.gate_results`, one row per check evaluation.

The quality checks append every evaluation here (orchestration.quality_checks); whoever acts on
the gates outside a Dagster run reads the latest result of each check back: the standalone
export (export.gates), the alert sensors and the run metrics.
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


def append_result(
    con: duckdb.DuckDBPyConnection,
    *,
    run_id: str,
    checked_at: datetime,
    asset_key: str,
    check_name: str,
    passed: bool,
    severity: str,
    failed_expectations: int | None,
) -> None:
    """Record one evaluation of a check (the table is created on first use)."""
    ensure_gate_table(con)
    con.execute(
        f"insert into {GATE_TABLE} values (?, ?, ?, ?, ?, ?, ?)",
        [run_id, checked_at, asset_key, check_name, passed, severity, failed_expectations],
    )


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
