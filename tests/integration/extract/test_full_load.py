"""A full load lands every sandbox object once, with exact amounts and exact column types.

At two seeds: counts, id sets, Decimal sums per table and per balance, statuses and every daily
closing balance are compared with the sandbox's own `World`; every money column declared in
`extract.records.TABLES` must be DECIMAL with Mollie's scale, and no column in `mollie` may be a
float type.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import duplicate_keys, extract_into, metrics, sandbox_config, warehouse
from sandbox_truth import diff, expected

from extract.pipeline import ExtractResult
from extract.records import TABLES, money_columns
from sandbox.generate import World
from sandbox.server import SandboxServer

FLOAT_TYPES = ("DOUBLE", "FLOAT", "REAL")


@pytest.fixture(scope="module", params=[7, 1234], ids=lambda seed: f"seed{seed}")
def full_load(request, tmp_path_factory) -> tuple[Path, World, ExtractResult]:
    db = tmp_path_factory.mktemp(f"full{request.param}") / "warehouse.duckdb"
    with SandboxServer(sandbox_config(seed=request.param)) as server:
        result = extract_into(db, server)
        return db, server.world, result


def test_every_object_lands_once_with_exact_amounts(full_load) -> None:
    db, world, result = full_load
    assert diff(metrics(db, world), expected(world)) == {}
    assert duplicate_keys(db) == {}
    assert result.quarantined == {}


def test_run_reports_rows_per_table(full_load) -> None:
    _, world, result = full_load
    assert set(result.rows) == set(TABLES)
    assert result.rows["payments"] == len(world.payments)
    assert result.rows["balance_transactions"] == len(world.transactions)
    assert result.rows["settlement_periods"] == sum(len(s.periods) for s in world.settlements)


def test_every_money_column_is_decimal_and_nothing_is_float(full_load) -> None:
    db, _, _ = full_load
    with warehouse(db) as con:
        types = {
            (table, column): data_type
            for table, column, data_type in con.execute(
                "SELECT table_name, column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'mollie'"
            ).fetchall()
        }
    checked = 0
    for table in TABLES.values():
        hints = table.columns()
        for column in money_columns(table):
            want = f"DECIMAL({hints[column]['precision']},{hints[column]['scale']})"
            assert types.get((table.name, column)) == want, (table.name, column)
            checked += 1
        for column, hint in hints.items():
            if hint["data_type"] == "timestamp":
                assert types[(table.name, column)] == "TIMESTAMP WITH TIME ZONE", column
    assert checked >= 40
    floats = {k: v for k, v in types.items() if v.startswith(FLOAT_TYPES)}
    assert floats == {}
