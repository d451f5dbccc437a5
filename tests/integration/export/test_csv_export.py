"""CSV files of every mart re-read with DuckDB equal the marts exactly; the manifest is right."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

import duckdb

from export.csv_export import MANIFEST, export_csv, mart_tables


def read_back(con: duckdb.DuckDBPyConnection, path, columns) -> list[tuple]:
    types = {c["name"]: c["type"] for c in columns}
    return con.execute(
        "select * from read_csv(?, header = true, delim = ',', quote = '\"', escape = '\"', "
        "allow_quoted_nulls = false, auto_detect = false, columns = ?) order by all",
        [str(path), types],
    ).fetchall()


def test_every_mart_round_trips_exactly(con, tmp_path):
    result = export_csv(con, tmp_path)
    manifest = json.loads((tmp_path / MANIFEST).read_text(encoding="utf-8"))

    tables = mart_tables(con)
    assert {"journal_entries", "journal_entry_lines", "settlement_reconciliation"} <= set(tables)
    assert [f["table"] for f in manifest["files"]] == [f"marts.{t}" for t in tables]
    decimals = 0
    for entry in manifest["files"]:
        table = entry["table"]
        described = con.execute(f"describe {table}").fetchall()
        # the table's own column order and types
        assert [(c["name"], c["type"]) for c in entry["columns"]] == [
            (d[0], d[1]) for d in described
        ]
        expected = con.execute(f"select * from {table} order by all").fetchall()
        actual = read_back(con, tmp_path / entry["file"], entry["columns"])
        assert entry["rows"] == len(expected) == len(actual), table
        for want, got in zip(expected, actual, strict=True):
            assert got == want, table
            for a, b in zip(want, got, strict=True):
                if isinstance(a, Decimal):
                    decimals += 1
                    # same digits and scale, not just the same number
                    assert isinstance(b, Decimal) and str(a) == str(b), table
    assert decimals > 1000
    assert result.rows == sum(f["rows"] for f in manifest["files"])


def test_manifest_checksums_match_the_files(con, tmp_path):
    export_csv(con, tmp_path)
    manifest = json.loads((tmp_path / MANIFEST).read_text(encoding="utf-8"))
    for entry in manifest["files"]:
        data = (tmp_path / entry["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert len(data) == entry["bytes"]
        assert data.count(b"\n") == entry["rows"] + 1  # header + rows (no embedded newlines)
    assert not list(tmp_path.glob(".*.tmp"))  # no temp file left behind


def test_money_is_plain_text_and_dates_iso(con, tmp_path):
    export_csv(con, tmp_path)
    header, first = (
        (tmp_path / "settlement_reconciliation.csv").read_text(encoding="utf-8").splitlines()[:2]
    )
    row = dict(zip(header.split(","), first.split(","), strict=True))
    amount = con.execute(
        "select amount::varchar, settled_date::varchar from marts.settlement_reconciliation "
        "where settlement_id = ?",
        [row["settlement_id"]],
    ).fetchone()
    assert (row["amount"], row["settled_date"]) == amount
    assert row["settled_at"].endswith("+00:00") and "T" in row["settled_at"]


def test_unchanged_marts_give_identical_files(con, tmp_path):
    first = export_csv(con, tmp_path / "a")
    second = export_csv(con, tmp_path / "b")
    assert [f.sha256 for f in first.files] == [f.sha256 for f in second.files]
