"""GDPR erasure of one customer in the raw data, and the erase list that keeps it erased.

Clear personal data lives only in the raw `mollie` dataset (staging pseudonymises it):
a customer's name and email (`customers`), and the consumer name, account (IBAN) and card holder
in a payment's `details` (`payments`, `settlement_payments`); a quarantined record keeps its raw
JSON, which may hold any of them. dlt keeps the same rows in its staging dataset
(`mollie_staging`, the last load's rows before they were merged) and, as gzipped JSON lines, in
the load packages it archives beside the warehouse.

`erase_customer` blanks those values: on the customer's own rows, on the payments linked to it
and on any payment or quarantined record that carries one of its names, emails or accounts, and
records the customer in `privacy.erased_customers`. Amounts, ids and statuses stay, so the books
are untouched. `scrub_loaded` applies that list again whenever dlt loads rows (extract.duckdb_load
calls it per loaded file): a later extract that reads the customer or its payments again (the
look-back window re-reads recent ones) cannot bring the values back. Limitation: at load time
records are matched by the customer's id only; a one-off payment without a customer link that
carries the erased person's name is scrubbed by `erase_customer` (matched by value) but would
come back if Mollie served it again later; run `erase-customer` again for that customer then
(it is idempotent).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

ERASE_SCHEMA = "privacy"
ERASE_TABLE = f"{ERASE_SCHEMA}.erased_customers"
# The dataset dlt loads into and the one it stages merge rows in first.
RAW_SCHEMAS = ("mollie", "mollie_staging")
CUSTOMER_ID = re.compile(r"cst_[A-Za-z0-9]+")
# Keys of a payment's `details` that name or identify the consumer.
PII_DETAIL_KEYS = ("consumerName", "consumerAccount", "cardHolder")
_REMOVE_DETAILS = json.dumps(dict.fromkeys(PII_DETAIL_KEYS))  # merge-patch: null removes a key
ERASED_NOTE = " [raw record erased on request]"

# Per raw table: what blanks its personal data, and the column that links a row to a customer.
_SCRUB: dict[str, tuple[str, str | None]] = {
    "customers": ("name = NULL, email = NULL", "id"),
    "payments": (f"details = json_merge_patch(details, '{_REMOVE_DETAILS}')", "customer_id"),
    "settlement_payments": (
        f"details = json_merge_patch(details, '{_REMOVE_DETAILS}')",
        "customer_id",
    ),
    "quarantine": (f"raw = NULL, reason = reason || '{ERASED_NOTE}'", None),
}
# Rows that still hold something to blank (so a second erasure changes and counts nothing).
_STILL_PERSONAL = {
    "customers": "(name is not null or email is not null)",
    "payments": "(" + " or ".join(f"details->>'{k}' is not null" for k in PII_DETAIL_KEYS) + ")",
    "quarantine": "raw is not null",
}
_STILL_PERSONAL["settlement_payments"] = _STILL_PERSONAL["payments"]


class ErasureError(ValueError):
    """The erasure cannot be done as asked; the message says why."""


@dataclass
class ErasureReport:
    customer_id: str
    rows: dict[str, int] = field(default_factory=dict)  # "schema.table" → rows blanked
    archives_removed: int = 0  # archived load files deleted
    found: bool = True  # the warehouse held personal data of this customer
    already_listed: bool = False  # erased before (on the erase list)


def check_customer_id(customer_id: str) -> str:
    if not CUSTOMER_ID.fullmatch(customer_id or ""):
        raise ErasureError(f"{customer_id!r} is not a Mollie customer id (cst_…)")
    return customer_id


def erase_customer(con: duckdb.DuckDBPyConnection, customer_id: str) -> ErasureReport:
    """Blank the customer's personal data in every raw table and add it to the erase list.

    Idempotent: a second call finds nothing left to blank. Commits in one transaction.
    """
    check_customer_id(customer_id)
    report = ErasureReport(customer_id)
    tables = _raw_tables(con)
    values = _identifiers(con, customer_id, tables)
    report.found = bool(values) or _mentioned(con, customer_id, tables)
    con.execute("begin transaction")
    try:
        ensure_erase_table(con)
        report.already_listed = bool(
            con.execute(
                f"select count(*) from {ERASE_TABLE} where customer_id = ?", [customer_id]
            ).fetchone()[0]
        )
        for schema, table in tables:
            sql, params = _erase_statement(schema, table, customer_id, values)
            changed = con.execute(sql, params).fetchone()
            report.rows[f"{schema}.{table}"] = int(changed[0]) if changed else 0
        con.execute(
            f"insert into {ERASE_TABLE} values (?, now()) on conflict do nothing", [customer_id]
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return report


def ensure_erase_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"create schema if not exists {ERASE_SCHEMA}")
    con.execute(
        f"create table if not exists {ERASE_TABLE} "
        "(customer_id varchar primary key, erased_at timestamptz not null)"
    )


def scrub_loaded(
    execute: Callable[[str], Sequence[Any] | None], table: str, qualified: str
) -> None:
    """Blank erased customers' data in rows dlt just loaded into `qualified` (raw table `table`).

    `execute` runs one SQL statement and returns its rows (dlt's sql client). Cheap when nothing
    was ever erased: one catalog lookup.
    """
    if table not in _SCRUB:
        return
    exists = execute(
        "select count(*) from information_schema.tables "
        f"where table_schema = '{ERASE_SCHEMA}' and table_name = 'erased_customers'"
    )
    if not exists or not exists[0][0]:
        return
    assignments, link = _SCRUB[table]
    if link is not None:
        match = f"{link} in (select customer_id from {ERASE_TABLE})"
    else:  # a quarantined record: its raw JSON names the customer
        match = f"exists (select 1 from {ERASE_TABLE} e where contains(raw, e.customer_id))"
    execute(f"update {qualified} set {assignments} where {match} and {_STILL_PERSONAL[table]}")


def remove_load_archives(db: Path) -> int:
    """Delete the job files of load packages dlt has archived beside the warehouse `db`.

    They are copies of rows already in the warehouse (dlt keeps them for inspection only), with
    every customer's data in clear. Packages not loaded yet are left alone: the next run loads
    them, and `scrub_loaded` blanks what they bring. Returns the number of files removed.
    """
    removed = 0
    for jobs in (db.parent / ".dlt" / "pipelines").glob("*/load/loaded/*/completed_jobs"):
        removed += sum(1 for f in jobs.iterdir() if f.is_file())
        shutil.rmtree(jobs)
        jobs.mkdir()
    return removed


# -- internals --------------------------------------------------------------------------------


def _raw_tables(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    rows = con.execute(
        "select table_schema, table_name from information_schema.tables "
        f"where table_schema in ({', '.join('?' for _ in RAW_SCHEMAS)}) "
        f"and table_name in ({', '.join('?' for _ in _SCRUB)}) order by 1, 2",
        [*RAW_SCHEMAS, *_SCRUB],
    ).fetchall()
    return [(schema, table) for schema, table in rows]


def _identifiers(
    con: duckdb.DuckDBPyConnection, customer_id: str, tables: Iterable[tuple[str, str]]
) -> list[str]:
    """The customer's names, emails and accounts as the raw data holds them."""
    found: set[str] = set()
    for schema, table in tables:
        if table == "customers":
            for name, email in con.execute(
                f"select name, email from {schema}.customers where id = ?", [customer_id]
            ).fetchall():
                found.update(v for v in (name, email) if v)
        elif table in ("payments", "settlement_payments"):
            keys = ", ".join(f"details->>'{k}'" for k in PII_DETAIL_KEYS)
            for row in con.execute(
                f"select {keys} from {schema}.{table} where customer_id = ?", [customer_id]
            ).fetchall():
                found.update(v for v in row if v)
    return sorted(found)


def _mentioned(
    con: duckdb.DuckDBPyConnection, customer_id: str, tables: Iterable[tuple[str, str]]
) -> bool:
    return any(
        con.execute(
            f"select count(*) from {schema}.quarantine where contains(raw, ?)", [customer_id]
        ).fetchone()[0]
        for schema, table in tables
        if table == "quarantine"
    )


def _erase_statement(
    schema: str, table: str, customer_id: str, values: list[str]
) -> tuple[str, list[Any]]:
    """The UPDATE that blanks `table`'s rows of this customer: linked by id or by value."""
    assignments, link = _SCRUB[table]
    if table == "quarantine":
        needles = [customer_id, *values]
        match = " or ".join("contains(raw, ?)" for _ in needles)
        params: list[Any] = list(needles)
    elif table == "customers":
        match, params = "id = ?", [customer_id]
    else:
        match, params = f"{link} = ?", [customer_id]
        if values:
            marks = ", ".join("?" for _ in values)
            for key in PII_DETAIL_KEYS:
                match += f" or details->>'{key}' in ({marks})"
                params += values
    sql = f"update {schema}.{table} set {assignments} where ({match}) and {_STILL_PERSONAL[table]}"
    return sql, params
