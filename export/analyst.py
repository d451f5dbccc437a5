"""Reading the published warehouse without knowing its path: `mollie-ledger query` and `shell`.

Every connection is read-only on the published file (export/publish.py), never on the warehouse
the run writes, so nothing here can block a run. Money is printed exactly as DuckDB holds it
(a DECIMAL's own text, also in JSON, where a number would pass through a float).
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import TextIO

import duckdb

from export.publish import published_path, status_line

FORMATS = ("table", "csv", "json")
SHELL_PROMPT = "published> "


class AnalystError(RuntimeError):
    """The query or the prompt cannot run; the message says why (and what to do)."""


class NoPublication(AnalystError):
    """There is no published file to read yet; the message says how to get one."""


Pathish = str | os.PathLike[str]


def default_published(published: Pathish | None, warehouse: Pathish) -> Path:
    """The argument, else MOLLIE_LEDGER_PUBLISHED_DB, else beside the warehouse."""
    return Path(published) if published else published_path(warehouse)


def publication_status(
    warehouse: Pathish, *, run_succeeded: bool, env: Mapping[str, str] = os.environ
) -> str:
    """After a run on `warehouse`: the publication this run wrote, or the one analysts kept."""
    return status_line(published_path(warehouse, env), run_succeeded=run_succeeded)


def query_published(published: Pathish | None, warehouse: Pathish, sql: str, fmt: str) -> str:
    """`mollie-ledger query`: the result of `sql` on the published file, rendered as `fmt`."""
    with open_published(default_published(published, warehouse)) as con:
        try:
            return render(run_query(con, sql), fmt)
        except duckdb.Error as exc:
            raise AnalystError(str(exc)) from None


def start_shell(
    published: Pathish | None, warehouse: Pathish, echo: Callable[[str], None] = print
) -> None:
    """`mollie-ledger shell`: DuckDB's CLI on the published file (read-only) when installed,
    else the built-in prompt."""
    path = default_published(published, warehouse)
    with open_published(path):
        pass  # a clear message now rather than a prompt on a missing file
    command = duckdb_cli_command(path)
    if command:
        sys.stdout.flush()
        os.execv(command[0], command)  # the process becomes DuckDB's CLI
    echo(f"{path} (read-only). No `duckdb` CLI on PATH, so a minimal SQL prompt:")
    with open_published(path) as con:
        sql_repl(con)


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[tuple]


@contextmanager
def open_published(path: str | os.PathLike[str]) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection on the published file."""
    path = Path(path)
    if not path.is_file():
        raise NoPublication(
            f"no published warehouse at {path} yet: a successful `mollie-ledger run` writes it "
            "(or set MOLLIE_LEDGER_PUBLISHED_DB to where it is)"
        )
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        raise AnalystError(f"cannot open the published warehouse {path}: {exc}") from None
    try:
        # A missing table is an error, not a lookup of a Python variable of that name.
        con.execute("set python_enable_replacements = false")
        yield con
    finally:
        con.close()


def run_query(con: duckdb.DuckDBPyConnection, sql: str) -> QueryResult:
    cursor = con.execute(sql)
    if cursor.description is None:  # a statement without a result (SET, PRAGMA …)
        return QueryResult(columns=[], rows=[])
    return QueryResult(columns=[d[0] for d in cursor.description], rows=cursor.fetchall())


def render(result: QueryResult, fmt: str = "table") -> str:
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows([[_text(v, null="") for v in row] for row in result.rows])
        return out.getvalue().rstrip("\n")
    if fmt == "json":
        records = [
            dict(zip(result.columns, map(_json_value, row), strict=True)) for row in result.rows
        ]
        return json.dumps(records, indent=2, ensure_ascii=False)
    if fmt == "table":
        return _table(result)
    raise ValueError(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}")


def duckdb_cli_command(path: str | os.PathLike[str]) -> list[str] | None:
    """DuckDB's own CLI on the published file, read-only, when a `duckdb` binary is on PATH."""
    binary = shutil.which("duckdb")
    return [binary, "-readonly", str(path)] if binary else None


def sql_repl(
    con: duckdb.DuckDBPyConnection,
    read_line: Callable[[str], str] = input,
    out: TextIO = sys.stdout,
) -> None:
    """A small SQL prompt (when DuckDB's CLI is not installed): statements end with `;`,
    `.quit` or end of input leaves. Errors are printed and the prompt goes on."""
    buffer: list[str] = []
    while True:
        try:
            line = read_line(SHELL_PROMPT if not buffer else "      ...> ")
        except EOFError:
            break
        if not buffer and line.strip() in {".quit", ".exit", "\\q"}:
            break
        buffer.append(line)
        if not line.rstrip().endswith(";"):
            continue
        sql = "\n".join(buffer)
        buffer.clear()
        try:
            print(render(run_query(con, sql)), file=out)
        except duckdb.Error as exc:
            print(f"error: {exc}", file=out)


def _table(result: QueryResult) -> str:
    if not result.columns:
        return "(no result)"
    cells = [[_text(v) for v in row] for row in result.rows]
    numeric = [
        all(isinstance(row[i], int | float | Decimal) or row[i] is None for row in result.rows)
        for i in range(len(result.columns))
    ]
    widths = [max([len(c), *(len(row[i]) for row in cells)]) for i, c in enumerate(result.columns)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if right else v.ljust(w)
            for v, w, right in zip(values, widths, numeric, strict=True)
        ).rstrip()

    lines = [line(result.columns), line(["-" * w for w in widths])]
    lines += [line(row) for row in cells]
    lines.append(f"({len(result.rows)} row{'' if len(result.rows) == 1 else 's'})")
    return "\n".join(lines)


def _text(value: object, null: str = "NULL") -> str:
    if value is None:
        return null
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


def _json_value(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)  # exact: a JSON number would be read as a float
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
