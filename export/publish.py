"""The published warehouse: a read-only copy of staging and the marts for analysts.

DuckDB lets one process open a file for writing and nobody else open it at all meanwhile, so an
analyst's session on the warehouse (a notebook, the DuckDB CLI, DBeaver left open overnight)
would make the next run fail, and during a run nobody could look at yesterday's books. So after
a run whose gates passed, its tables are copied into a fresh file beside the publication,
checkpointed and flushed to disk, and renamed over it (`os.replace`, atomic within one folder).

On Linux a rename never waits for readers: a process that has the old file open keeps reading
it (the inode lives until its last descriptor closes, and DuckDB's read lock is on that inode),
while a new connection opens the new file. Nothing an analyst holds open can block a run. A run
that fails or is stopped by a gate never gets here, so the last good publication stays.

What is published: `staging` (typed, one row per Mollie id, personal data already replaced by
pseudonyms) and `marts`, table by table with their exact column types (DECIMAL stays DECIMAL),
plus `publication.about` saying which run it is. The raw `mollie` layer is left out on purpose:
it holds the names, emails and IBANs that staging pseudonymises, and a copy handed to every
analyst would spread them (and outlive an erasure until the next run).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from export.atomic import fsync_dir

ENV_PUBLISHED_DB = "MOLLIE_LEDGER_PUBLISHED_DB"
PUBLISHED_SCHEMAS = ("staging", "marts")
ABOUT_TABLE = "publication.about"
_ALIAS = "publication_next"  # the fresh file while it is written, attached to the warehouse


@dataclass(frozen=True)
class Publication:
    """One published file: where, from which run, when, and the rows of every table."""

    path: Path
    run_id: str
    published_at: datetime
    tables: dict[str, int] = field(default_factory=dict)  # "schema.table" -> rows
    seconds: float | None = None  # how long writing it took (only known to the publisher)

    @property
    def rows(self) -> int:
        return sum(self.tables.values())

    def describe(self) -> str:
        when = self.published_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        return f"{self.path} (run {self.run_id}, published {when}, {len(self.tables)} tables)"


def published_path(warehouse: str | os.PathLike[str], env: Mapping[str, str] = os.environ) -> Path:
    """MOLLIE_LEDGER_PUBLISHED_DB, else `<warehouse stem>.published.duckdb` beside the warehouse
    (so a demo or `--db` warehouse gets its own publication)."""
    configured = (env.get(ENV_PUBLISHED_DB) or "").strip()
    if configured:
        return Path(configured)
    db = Path(warehouse)
    return db.with_name(f"{db.stem}.published{db.suffix or '.duckdb'}")


def publish(
    con: duckdb.DuckDBPyConnection,
    target: str | os.PathLike[str],
    *,
    run_id: str,
    published_at: datetime | None = None,
) -> Publication:
    """Copy the published schemas of the warehouse open on `con` into a new file and swap it in
    as `target`. On any error the previous publication stays untouched and the half-written
    file is removed."""
    started = time.monotonic()
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fresh = target.with_name(target.name + ".next")
    _remove(fresh)  # what a crashed run may have left
    source, source_file = con.execute(
        "select database_name, path from duckdb_databases() "
        "where database_name = current_database()"
    ).fetchone()
    if source_file and Path(source_file).resolve() == target.resolve():
        raise ValueError(
            f"{ENV_PUBLISHED_DB} points at the warehouse itself ({target}): the publication "
            "must be a file of its own, or publishing would replace the warehouse"
        )
    published_at = published_at or datetime.now(UTC)
    con.execute(f"attach {_literal(str(fresh))} as {_ALIAS}")
    try:
        tables = _copy_tables(con, source)
        con.execute(f"create schema {_ALIAS}.publication")
        con.execute(
            f"create table {_ALIAS}.{ABOUT_TABLE} (run_id varchar, published_at timestamptz, "
            "schemas varchar[], tables integer, rows bigint)"
        )
        con.execute(
            f"insert into {_ALIAS}.{ABOUT_TABLE} values (?, ?, ?, ?, ?)",
            [run_id, published_at, list(PUBLISHED_SCHEMAS), len(tables), sum(tables.values())],
        )
        con.execute(f"checkpoint {_ALIAS}")  # everything in the file itself, no WAL beside it
        con.execute(f"detach {_ALIAS}")
        _fsync(fresh)
        os.replace(fresh, target)
    except BaseException:
        _detach_quietly(con)
        _remove(fresh)
        raise
    # A WAL left by someone who opened the old publication for writing would be replayed into
    # the new file by the next reader: it belongs to the file that was replaced.
    target.with_name(target.name + ".wal").unlink(missing_ok=True)
    fsync_dir(target.parent)
    return Publication(
        path=target,
        run_id=run_id,
        published_at=published_at,
        tables=tables,
        seconds=time.monotonic() - started,
    )


def read_publication(path: str | os.PathLike[str]) -> Publication | None:
    """What the file at `path` holds (from `publication.about`), or None when there is none."""
    path = Path(path)
    if not path.is_file():
        return None
    con = duckdb.connect(str(path), read_only=True)
    try:
        run_id, published_at = con.execute(
            f"select run_id, published_at from {ABOUT_TABLE}"
        ).fetchone()
        catalog = con.execute("select current_database()").fetchone()[0]
        tables = {
            f"{schema}.{name}": _count(con, f'"{schema}"."{name}"')
            for schema, name in _base_tables(con, catalog)
        }
    finally:
        con.close()
    return Publication(path=path, run_id=run_id, published_at=published_at, tables=tables)


def status_line(path: str | os.PathLike[str], *, run_succeeded: bool) -> str:
    """What a run says about the publication afterwards (the CLI prints it)."""
    current = read_publication(path)
    if run_succeeded:
        if current is None:
            return f"Published for analysts: nothing at {path} (the publish step did not run)"
        return f"Published for analysts: {current.describe()}"
    if current is None:
        return f"Not published (the run failed): there is no earlier publication at {path} yet"
    return f"Not published (the run failed): analysts keep the last good one, {current.describe()}"


def _copy_tables(con: duckdb.DuckDBPyConnection, source: str) -> dict[str, int]:
    tables: dict[str, int] = {}
    wanted = [(s, t) for s, t in _base_tables(con, source) if s in PUBLISHED_SCHEMAS]
    for schema in PUBLISHED_SCHEMAS:
        con.execute(f'create schema {_ALIAS}."{schema}"')
    for schema, name in wanted:
        # CREATE TABLE AS keeps each column's type exactly (DECIMAL(p,s), TIMESTAMPTZ, lists).
        con.execute(
            f'create table {_ALIAS}."{schema}"."{name}" as '
            f'select * from "{source}"."{schema}"."{name}"'
        )
        tables[f"{schema}.{name}"] = _count(con, f'{_ALIAS}."{schema}"."{name}"')
    return tables


def _base_tables(con: duckdb.DuckDBPyConnection, catalog: str) -> list[tuple[str, str]]:
    return [
        (schema, name)
        for schema, name in con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_catalog = ? and table_type = 'BASE TABLE' and table_schema <> ? "
            "order by 1, 2",
            [catalog, ABOUT_TABLE.split(".")[0]],
        ).fetchall()
    ]


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return con.execute(f"select count(*) from {table}").fetchone()[0]


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _detach_quietly(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.execute(f"detach database if exists {_ALIAS}")
    except duckdb.Error:
        pass


def _remove(fresh: Path) -> None:
    fresh.unlink(missing_ok=True)
    fresh.with_name(fresh.name + ".wal").unlink(missing_ok=True)
