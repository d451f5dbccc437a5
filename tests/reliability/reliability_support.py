"""What every reliability test compares against: one small sandbox world, a clean warehouse built
from it, and a fingerprint of a warehouse (rows and exact Decimal sums per table).

The world is small (a few hundred payments, three weeks) so a load takes seconds on a busy
machine; it still has EUR and GBP balances, settlements, refunds, a chargeback and subscriptions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from extract.records import TABLES
from extract.settings import ClientSettings
from sandbox.generate import SandboxConfig
from sandbox.server import DEFAULT_ACCESS_TOKEN, SandboxServer

SEED = 7
PAYMENTS = 300
DAYS = 25
NOW = "2026-11-01T00:00:00Z"
# Schemas whose tables the pipeline writes. Not `mollie_staging` (dlt's scratch copy of the last
# load), not `export` (the outbox depends on what Frappe answered), not `config`.
COMPARED_SCHEMAS = ("mollie", "bank", "staging", "intermediate", "marts")

Fingerprint = dict[str, dict[str, Any]]


def world(seed: int = SEED, payments: int = PAYMENTS, days: int = DAYS) -> SandboxConfig:
    return SandboxConfig.from_cli(seed=seed, payments=payments, days=days, now=NOW)


def settings_for(server: SandboxServer, **overrides: Any) -> ClientSettings:
    """Client settings for a local sandbox: no token bucket (it protects Mollie, not localhost)."""
    values: dict[str, Any] = {
        "base_url": server.base_url,
        "token": server.access_token or DEFAULT_ACCESS_TOKEN,
        "rate_per_second": 0,
    }
    return ClientSettings(**{**values, **overrides})


def fingerprint(db: Path) -> Fingerprint:
    """Per table of COMPARED_SCHEMAS: its row count and the exact sum of every DECIMAL column.

    Two warehouses with equal fingerprints hold the same money in the same number of rows, table
    by table, to the last digit (DuckDB DECIMAL sums are exact).
    """
    out: Fingerprint = {}
    con = duckdb.connect(str(db), read_only=True)
    try:
        columns = con.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            f"where table_schema in ({', '.join('?' for _ in COMPARED_SCHEMAS)}) "
            "and data_type like 'DECIMAL%' and table_name not like '\\_dlt%' escape '\\' "
            "order by all",
            list(COMPARED_SCHEMAS),
        ).fetchall()
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            f"where table_schema in ({', '.join('?' for _ in COMPARED_SCHEMAS)}) "
            "and table_name not like '\\_dlt%' escape '\\' order by all",
            list(COMPARED_SCHEMAS),
        ).fetchall()
        for schema, table in tables:
            sums = [c for s, t, c in columns if (s, t) == (schema, table)]
            select = ", ".join(["count(*)", *(f'sum("{c}")' for c in sums)])
            row = con.execute(f'select {select} from "{schema}"."{table}"').fetchone()
            entry: dict[str, Any] = {"rows": row[0]}
            entry.update({f"sum.{c}": v for c, v in zip(sums, row[1:], strict=True)})
            out[f"{schema}.{table}"] = entry
    finally:
        con.close()
    return out


def differences(actual: Fingerprint, wanted: Fingerprint) -> dict[str, tuple[Any, Any]]:
    """{"table.metric": (actual, wanted)} for every metric that differs (empty: equal).

    A table missing on one side counts as empty: dlt creates a raw table only once a row comes,
    the model build creates the rest empty.
    """
    out: dict[str, tuple[Any, Any]] = {}
    for table in sorted(set(actual) | set(wanted)):
        a, w = actual.get(table) or {"rows": 0}, wanted.get(table) or {"rows": 0}
        for key in sorted(set(a) | set(w)):
            if a.get(key) != w.get(key):
                out[f"{table}.{key}"] = (a.get(key), w.get(key))
    return out


def lost_and_duplicated(actual: Fingerprint, wanted: Fingerprint) -> tuple[int, int]:
    """Rows missing and rows extra across the raw tables, against the clean warehouse."""
    lost = duplicated = 0
    for table in TABLES:
        got = actual.get(f"mollie.{table}", {}).get("rows", 0)
        want = wanted.get(f"mollie.{table}", {}).get("rows", 0)
        lost += max(want - got, 0)
        duplicated += max(got - want, 0)
    return lost, duplicated


def duplicate_keys(db: Path) -> dict[str, int]:
    """Rows beyond one per primary key, per raw table (empty when every key is unique)."""
    out: dict[str, int] = {}
    con = duckdb.connect(str(db), read_only=True)
    try:
        present = {
            name
            for (name,) in con.execute(
                "select table_name from information_schema.tables where table_schema = 'mollie'"
            ).fetchall()
        }
        for table in TABLES.values():
            if table.name not in present:
                continue  # dlt creates a table with its first row
            key = ", ".join(table.primary_key)
            total, distinct = con.execute(
                f"select count(*), count(distinct ({key})) from mollie.{table.name}"
            ).fetchone()
            if total != distinct:
                out[table.name] = total - distinct
    finally:
        con.close()
    return out
