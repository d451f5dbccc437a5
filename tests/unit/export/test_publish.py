"""The published warehouse on small real DuckDB files: what is copied (exact types, no raw
layer), the atomic swap under a reader in another process, and a failed publish leaving the
last good copy in place."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from export.analyst import (
    AnalystError,
    NoPublication,
    QueryResult,
    query_published,
    render,
    sql_repl,
)
from export.publish import ENV_PUBLISHED_DB, publish, published_path, read_publication


def make_warehouse(path: Path, *, payments: int) -> Path:
    con = duckdb.connect(str(path))
    for schema in ("mollie", "staging", "marts", "export"):
        con.execute(f"create schema {schema}")
    con.execute("create table mollie.payments (id varchar, customer_email varchar)")
    con.execute("insert into mollie.payments values ('tr_1', 'someone@example.org')")
    con.execute(
        "create table staging.stg_payments as select 'tr_' || i as payment_id, "
        "(i * 1.01)::decimal(18, 2) as amount, timestamptz '2026-11-01 10:00:00+00' as paid_at "
        f"from range({payments}) r(i)"
    )
    con.execute(
        "create table marts.daily as select paid_at::date as day, sum(amount) as amount "
        "from staging.stg_payments group by 1"
    )
    con.execute("create view marts.a_view as select * from marts.daily")
    con.execute("create table export.outbox (key varchar)")
    con.close()
    return path


def test_default_path_is_beside_the_warehouse_unless_configured(tmp_path):
    assert published_path(tmp_path / "w.duckdb", env={}) == tmp_path / "w.published.duckdb"
    assert published_path("data/mollie_ledger.duckdb", env={}) == Path(
        "data/mollie_ledger.published.duckdb"
    )
    assert published_path("w.duckdb", env={ENV_PUBLISHED_DB: "/srv/pub.duckdb"}) == Path(
        "/srv/pub.duckdb"
    )


def test_publishes_staging_and_marts_with_exact_types_and_no_raw_layer(tmp_path):
    db = make_warehouse(tmp_path / "w.duckdb", payments=5)
    target = tmp_path / "w.published.duckdb"
    with duckdb.connect(str(db)) as con:
        publication = publish(con, target, run_id="run-1")
        source_types = con.execute(
            "select table_schema, table_name, column_name, data_type "
            "from information_schema.columns "
            "where table_schema in ('staging', 'marts') and table_name <> 'a_view' order by all"
        ).fetchall()
    assert publication.tables == {"marts.daily": 1, "staging.stg_payments": 5}
    assert not (tmp_path / "w.published.duckdb.next").exists()
    assert not (tmp_path / "w.published.duckdb.wal").exists()

    with duckdb.connect(str(target), read_only=True) as pub:
        types = pub.execute(
            "select table_schema, table_name, column_name, data_type "
            "from information_schema.columns "
            "where table_schema in ('staging', 'marts') order by all"
        ).fetchall()
        schemas = {r[0] for r in pub.execute("select schema_name from duckdb_schemas()").fetchall()}
        total = pub.execute("select sum(amount) from staging.stg_payments").fetchone()[0]
        about = pub.execute("select run_id, tables, rows from publication.about").fetchone()
    assert types == source_types  # DECIMAL(18,2) and TIMESTAMPTZ exactly as in the warehouse
    assert ("staging", "stg_payments", "amount", "DECIMAL(18,2)") in types
    assert total == Decimal("10.10")
    assert "mollie" not in schemas and "export" not in schemas  # raw PII and outbox stay home
    assert about == ("run-1", 2, 6)
    assert read_publication(target).tables == publication.tables


def test_a_reader_in_another_process_keeps_its_copy_and_never_blocks_the_swap(tmp_path):
    db = make_warehouse(tmp_path / "w.duckdb", payments=3)
    target = tmp_path / "w.published.duckdb"
    with duckdb.connect(str(db)) as con:
        publish(con, target, run_id="run-1")
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(target)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout.readline().split() == ["run-1", "3", "3.03"]
        with duckdb.connect(str(db)) as con:
            con.execute("insert into staging.stg_payments values ('tr_x', 100.00, now())")
            publish(con, target, run_id="run-2")  # the reader still has run-1 open
        reader.stdin.write("again\n")
        reader.stdin.flush()
        assert reader.stdout.readline().split() == ["run-1", "3", "3.03"]
        reader.stdin.write("reconnect\n")
        reader.stdin.flush()
        assert reader.stdout.readline().split() == ["run-2", "4", "103.03"]
    finally:
        reader.stdin.close()
        reader.wait(timeout=30)
    assert reader.returncode == 0


# Holds a read-only connection like an analyst's notebook; on "reconnect" it closes and opens
# again, on anything else it queries the connection it has.
READER = """
import sys, duckdb
path = sys.argv[1]
con = duckdb.connect(path, read_only=True)
def show():
    run = con.execute("select run_id from publication.about").fetchone()[0]
    n, total = con.execute("select count(*), sum(amount) from staging.stg_payments").fetchone()
    print(run, n, total, flush=True)
show()
for line in sys.stdin:
    if line.strip() == "reconnect":
        con.close()
        con = duckdb.connect(path, read_only=True)
    show()
"""


def test_a_failed_publish_leaves_nothing_half_written(tmp_path):
    db = make_warehouse(tmp_path / "w.duckdb", payments=3)
    good = tmp_path / "w.published.duckdb"
    occupied = tmp_path / "occupied.duckdb"
    occupied.mkdir()  # the rename at the very end fails: everything before it was done
    with duckdb.connect(str(db)) as con:
        publish(con, good, run_id="run-1")
        with pytest.raises(IsADirectoryError):
            publish(con, occupied, run_id="never")
        # The fresh file is detached (the connection goes on) and removed.
        attached = con.execute("select database_name from duckdb_databases()").fetchall()
        assert ("publication_next",) not in attached
        assert con.execute("select count(*) from staging.stg_payments").fetchone() == (3,)
        publish(con, good, run_id="run-2")  # and the next publish works
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "occupied.duckdb",
        "w.duckdb",
        "w.published.duckdb",
    ]
    assert read_publication(good).run_id == "run-2"


def test_publishing_over_the_warehouse_itself_is_refused(tmp_path):
    db = make_warehouse(tmp_path / "w.duckdb", payments=2)
    with duckdb.connect(str(db)) as con, pytest.raises(ValueError, match="warehouse itself"):
        publish(con, tmp_path / "." / "w.duckdb", run_id="r")
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select count(*) from mollie.payments").fetchone() == (1,)


def test_query_renders_money_exactly_in_every_format(tmp_path):
    result = QueryResult(
        columns=["day", "amount", "note"],
        rows=[
            ("2026-11-01", Decimal("1234567890123.45"), None),
            ("2026-11-02", Decimal("0.10"), "x"),
        ],
    )
    table = render(result, "table").splitlines()
    assert table[0].split() == ["day", "amount", "note"]
    assert table[2].split() == ["2026-11-01", "1234567890123.45", "NULL"]
    assert table[-1] == "(2 rows)"
    assert render(result, "csv").splitlines() == [
        "day,amount,note",
        "2026-11-01,1234567890123.45,",
        "2026-11-02,0.10,x",
    ]
    assert json.loads(render(result, "json"))[0] == {
        "day": "2026-11-01",
        "amount": "1234567890123.45",  # a string: a JSON number would go through a float
        "note": None,
    }


def test_query_reads_the_published_file_only_and_says_what_is_missing(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_PUBLISHED_DB, raising=False)
    with pytest.raises(NoPublication, match="mollie-ledger run"):
        query_published(tmp_path / "none.duckdb", tmp_path / "w.duckdb", "select 1", "table")
    db = make_warehouse(tmp_path / "w.duckdb", payments=2)
    target = tmp_path / "w.published.duckdb"
    with duckdb.connect(str(db)) as con:
        publish(con, target, run_id="r")
    # No path given: the file beside the warehouse.
    out = query_published(None, db, "select sum(amount) as total from staging.stg_payments", "csv")
    assert out.splitlines() == ["total", "1.01"]
    with pytest.raises(AnalystError, match="read-only"):
        query_published(target, db, "delete from staging.stg_payments", "table")
    with pytest.raises(AnalystError, match="mollie"):
        query_published(target, db, "select * from mollie.payments", "table")


def test_built_in_prompt_runs_statements_until_quit(tmp_path):
    import io

    lines = iter(["select 1 as a,", " 2 as b;", "select nope;", ".quit", "select 3;"])
    out = io.StringIO()
    with duckdb.connect() as con:
        sql_repl(con, read_line=lambda _prompt: next(lines), out=out)
    text = out.getvalue()
    assert "a  b" in text and "1  2" in text
    assert "error:" in text and "nope" in text
    assert "3" not in text.split("error:")[1]  # nothing after .quit ran
