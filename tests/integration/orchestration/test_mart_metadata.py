"""A mart's materialisation metadata: money totals as exact strings, a summary, charts."""

from __future__ import annotations

import json
from decimal import Decimal

import dagster as dg
import duckdb
import pytest

from orchestration.asset_metadata import MART_SUMMARIES, mart_metadata
from orchestration.transform_assets import transform_assets
from orchestration.warehouse import Warehouse
from reporting.charts import MART_CHARTS as CHARTS


@pytest.fixture(scope="module")
def con(built_warehouse):
    connection = duckdb.connect(str(built_warehouse), read_only=True)
    yield connection
    connection.close()


def test_every_mart_has_a_summary_and_its_columns_exist(con):
    marts = {
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'"
        ).fetchall()
    }
    assert set(MART_SUMMARIES) == marts, "a new mart needs its totals in MART_SUMMARIES"
    for table, spec in MART_SUMMARIES.items():
        columns = dict(
            con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = 'marts' and table_name = ?",
                [table],
            ).fetchall()
        )
        for column in spec.totals:
            assert columns[column].startswith("DECIMAL"), (table, column)  # money, never float
        assert spec.count_by is None or spec.count_by in columns


def test_totals_are_exact_decimal_strings(con):
    rows = con.execute("select currency, fee from marts.balance_ledger").fetchall()
    expected: dict[str, Decimal] = {}
    for currency, fee in rows:
        expected[currency] = expected.get(currency, Decimal(0)) + fee
    metadata = mart_metadata(con, "balance_ledger", len(rows))
    totals = metadata["totals"].value
    assert {c: v["fee"] for c, v in totals.items()} == {c: str(v) for c, v in expected.items()}
    assert all(isinstance(v, str) for sums in totals.values() for v in sums.values())
    summary = metadata["summary"].value
    assert summary.startswith(f"**marts.balance_ledger**: {len(rows)} rows")
    assert f"| EUR | {totals['EUR']['gross']} | {totals['EUR']['fee']} |" in summary
    assert "Rows by category: " in summary


@pytest.mark.parametrize("table", sorted(CHARTS))
def test_charts_are_vega_lite_with_exact_values(con, table):
    (rows,) = con.execute(f"select count(*) from marts.{table}").fetchone()
    spec = mart_metadata(con, table, rows)["chart"].value
    assert spec["$schema"].endswith("vega-lite/v5.json")
    values = spec["data"]["values"]
    assert values and spec["data"]["format"]["parse"]
    for field in spec["data"]["format"]["parse"]:
        assert all(isinstance(v[field], str) for v in values)  # parsed for plotting only
        Decimal(values[-1][field])
    json.dumps(spec)  # serialisable as metadata


def test_materialising_a_mart_records_its_metadata(built_warehouse, tmp_path):
    db = tmp_path / "w.duckdb"
    db.write_bytes(built_warehouse.read_bytes())
    asset = next(a for a in transform_assets if a.key == dg.AssetKey(["marts", "daily_overview"]))
    result = dg.materialize([asset], resources={"warehouse": Warehouse(database=str(db))})
    [event] = result.get_asset_materialization_events()
    metadata = event.materialization.metadata
    assert {"dagster/row_count", "summary", "totals", "chart"} <= set(metadata)
    assert isinstance(metadata["summary"], dg.MarkdownMetadataValue)
