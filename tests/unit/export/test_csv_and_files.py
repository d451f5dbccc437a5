"""CSV spelling of values, quoting, atomic writes."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

import duckdb
import pytest

from export.atomic import atomic_writer, write_atomic
from export.csv_export import CsvExportError, csv_line, export_csv, format_value


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, None),
        (Decimal("1234567.50"), "1234567.50"),
        (Decimal("-0.0100"), "-0.0100"),
        (Decimal("1E-7"), "0.0000001"),
        (True, "true"),
        (12, "12"),
        (0.1, "0.1"),
        (date(2026, 9, 16), "2026-09-16"),
        (
            datetime(2026, 9, 16, 6, 0, tzinfo=timezone(timedelta(hours=2))),
            "2026-09-16T04:00:00+00:00",
        ),
        (datetime(2026, 9, 16, 6, 0), "2026-09-16T06:00:00"),
        (time(4, 5), "04:05:00"),
        (uuid.UUID(int=1), "00000000-0000-0000-0000-000000000001"),
    ],
)
def test_values(value, text):
    assert format_value(value) == text


def test_unknown_types_are_refused():
    with pytest.raises(CsvExportError):
        format_value([1, 2])


def test_quoting_keeps_null_and_empty_string_apart():
    assert csv_line([None, "", "a,b", 'say "hi"', " pad", "line\nbreak", "plain"]) == (
        b',"","a,b","say ""hi"""," pad","line\nbreak",plain\n'
    )


def test_round_trip_of_awkward_values_through_duckdb(tmp_path):
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute("create table marts.t (s varchar, d decimal(18,4), ts timestamptz, b boolean)")
    con.execute(
        "insert into marts.t values ('', 1.0000, null, true), (null, -2.5000, "
        "'2026-01-01 00:00:00+00', false), ('a,\"b\"\n c', null, null, null), "
        "('é ', 0, null, null)"
    )
    export_csv(con, tmp_path)
    back = con.execute(
        "select * from read_csv(?, header = true, allow_quoted_nulls = false, "
        "auto_detect = false, columns = {'s': 'VARCHAR', 'd': 'DECIMAL(18,4)', "
        "'ts': 'TIMESTAMPTZ', 'b': 'BOOLEAN'}) order by all",
        [str(tmp_path / "t.csv")],
    ).fetchall()
    assert back == con.execute("select * from marts.t order by all").fetchall()


def test_no_marts_is_an_error(tmp_path):
    with pytest.raises(CsvExportError, match="mollie-ledger run"):
        export_csv(duckdb.connect(), tmp_path)


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path):
    target = tmp_path / "x.csv"
    write_atomic(target, b"old\n")
    with pytest.raises(RuntimeError), atomic_writer(target) as out:
        out.write(b"half of the new")
        raise RuntimeError("disk full")
    assert target.read_bytes() == b"old\n"
    assert list(tmp_path.iterdir()) == [target]


def test_atomic_write_returns_the_checksum(tmp_path):
    import hashlib

    sha = write_atomic(tmp_path / "m.json", b"{}\n")
    assert sha == hashlib.sha256(b"{}\n").hexdigest()
    assert (tmp_path / "m.json").stat().st_mode & 0o644 == 0o644
