"""CSV export of every mart (docs/design.md, Flow and table contract), one file per table, plus a
manifest.

Format, chosen so the files re-read exactly (tests compare them with the marts value by value):
- UTF-8, a header row, comma-separated, `\\n` line ends, the table's own column order, rows in
  a stable order (`ORDER BY ALL`) so an unchanged mart gives a byte-identical file;
- DECIMAL exactly as stored, as plain digits (`1234.50`): the values come from DuckDB as
  `decimal.Decimal` and are formatted with `format(value, "f")`, never through float, never
  with thousands separators or exponents;
- dates `YYYY-MM-DD`; timestamps with a time zone in ISO 8601, converted to UTC
  (`2026-10-26T05:00:00+00:00`), so the file does not depend on the session's time zone;
- booleans `true`/`false`; NULL is an empty field, an empty string is `""` (quoted), so the two
  stay apart (read with DuckDB's `allow_quoted_nulls = false`);
- each file is written atomically (atomic.py), and `manifest.json` (files, columns with their
  types, row counts, SHA-256) last, so a reader that starts from the manifest sees one export.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from export.atomic import atomic_writer, write_atomic

SCHEMA = "marts"
MANIFEST = "manifest.json"
MANIFEST_FORMAT = "mollie-ledger-csv/1"
_BATCH = 10_000  # rows fetched at a time: memory stays flat however big a mart grows


class CsvExportError(RuntimeError):
    """Nothing to export, or a value the CSV format has no spelling for."""


@dataclass(frozen=True)
class ExportedFile:
    table: str  # schema-qualified, e.g. marts.journal_entries
    file: str  # name inside the export folder
    rows: int
    size: int
    sha256: str
    columns: tuple[tuple[str, str], ...]  # (name, DuckDB type)


@dataclass(frozen=True)
class CsvExport:
    folder: Path
    manifest: Path
    files: tuple[ExportedFile, ...]

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)


def mart_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every table and view of schema `marts`, by name."""
    return [
        name
        for (name,) in con.execute(
            "select table_name from information_schema.tables where table_schema = ? "
            "order by table_name",
            [SCHEMA],
        ).fetchall()
    ]


def export_csv(con: duckdb.DuckDBPyConnection, folder: Path) -> CsvExport:
    """Write every mart to `folder/<table>.csv`, then `folder/manifest.json`."""
    tables = mart_tables(con)
    if not tables:
        raise CsvExportError(
            f"schema {SCHEMA} has no tables: build the models first (`mollie-ledger run`)"
        )
    folder.mkdir(parents=True, exist_ok=True)
    files = tuple(write_table(con, table, folder / f"{table}.csv") for table in tables)
    manifest = folder / MANIFEST
    write_atomic(manifest, manifest_json(files))
    return CsvExport(folder=folder, manifest=manifest, files=files)


def write_table(con: duckdb.DuckDBPyConnection, table: str, path: Path) -> ExportedFile:
    cursor = con.execute(f'select * from {SCHEMA}."{table}" order by all')
    columns = tuple((d[0], str(d[1])) for d in cursor.description)
    rows = 0
    with atomic_writer(path) as out:
        out.write(csv_line(name for name, _ in columns))
        while batch := cursor.fetchmany(_BATCH):
            out.write(b"".join(csv_line(format_value(v) for v in row) for row in batch))
            rows += len(batch)
    return ExportedFile(f"{SCHEMA}.{table}", path.name, rows, out.size, out.sha256, columns)


def manifest_json(files: Iterable[ExportedFile]) -> bytes:
    manifest = {
        "format": MANIFEST_FORMAT,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "csv": {
            "encoding": "utf-8",
            "delimiter": ",",
            "header": True,
            "line_terminator": "\\n",
            "null": 'an empty field; an empty string is written as ""',
        },
        "files": [
            {
                "file": f.file,
                "table": f.table,
                "rows": f.rows,
                "bytes": f.size,
                "sha256": f.sha256,
                "columns": [{"name": n, "type": t} for n, t in f.columns],
            }
            for f in files
        ],
    }
    return (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def format_value(value: Any) -> str | None:
    """The CSV text of one DuckDB value (None for NULL)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):  # before int: bool is an int in Python
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")  # the stored digits and scale, never an exponent
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # DOUBLE columns are ratios (e.g. effective fee rates), never money; repr is the
        # shortest text that reads back to the same double.
        return repr(value)
    if isinstance(value, datetime):  # before date: datetime is a date in Python
        return (value.astimezone(UTC) if value.tzinfo else value).isoformat()
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise CsvExportError(f"no CSV spelling for a {type(value).__name__} value")


def csv_line(fields: Iterable[str | None]) -> bytes:
    return (",".join(_quoted(f) for f in fields) + "\n").encode("utf-8")


def _quoted(text: str | None) -> str:
    if text is None:
        return ""
    # Quote what would otherwise split, join or vanish: separators, quotes, line breaks, the
    # empty string (else it reads as NULL) and edge spaces (some readers trim them).
    if text == "" or text != text.strip() or any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text
