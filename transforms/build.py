"""Build the SQL models into the DuckDB warehouse.

`prepare` readies a connection (the PII hash function, the configuration as `config.*` tables,
empty raw tables for resources that returned nothing yet); `build_model` materialises one model
as a table. The Dagster assets and the CLI both use these, one model per asset.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable
from dataclasses import dataclass

import duckdb

from extract.records import HINTS, TABLES
from transforms.config import LedgerConfig
from transforms.models import Model, discover
from transforms.seeds import load_seeds

_DUCKDB_TYPES = {
    "text": "VARCHAR",
    "id": "VARCHAR",
    "currency": "VARCHAR",
    "int": "BIGINT",
    "bool": "BOOLEAN",
    "ts": "TIMESTAMPTZ",
    "date": "DATE",
    "json": "JSON",
    "money2": "DECIMAL(18,2)",
    "money4": "DECIMAL(18,4)",
}


def _kind_of(hint: dict) -> str:
    return next(kind for kind, h in HINTS.items() if h == {k: v for k, v in hint.items() if k in h})


def ensure_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create empty `mollie.*` tables that dlt has not created yet (no rows ever loaded), and
    add contract columns an older load did not have yet (all NULL).

    dlt creates a table only when its resource yields rows; a merchant without chargebacks
    must still get a (empty) chargeback mart instead of a missing-table error. Likewise a column
    added to the table contract reaches an existing table only with the next load that carries
    rows for it; until then the models must still build. dlt compares its schema with the
    table's actual columns, so a later load does not add the column twice.
    """
    con.execute("create schema if not exists mollie")
    existing: dict[str, set[str]] = {}
    for table_name, column_name in con.execute(
        "select table_name, column_name from information_schema.columns "
        "where table_schema = 'mollie'"
    ).fetchall():
        existing.setdefault(table_name, set()).add(column_name)
    for name, table in TABLES.items():
        columns = {col: _DUCKDB_TYPES[_kind_of(hint)] for col, hint in table.columns().items()}
        if name in existing:
            for col, duck_type in columns.items():
                if col not in existing[name]:
                    con.execute(f'alter table mollie.{name} add column "{col}" {duck_type}')
            continue
        cols = [f'"{col}" {duck_type}' for col, duck_type in columns.items()]
        cols += ['"_dlt_load_id" VARCHAR', '"_dlt_id" VARCHAR']
        con.execute(f"create table mollie.{name} ({', '.join(cols)})")


def _pii_hasher(key: str):
    secret = key.encode()

    def pii_hash(value: str | None) -> str | None:
        if value is None:
            return None
        normalised = value.strip().lower().replace(" ", "")
        return "px_" + hmac.new(secret, normalised.encode(), hashlib.sha256).hexdigest()[:32]

    return pii_hash


def prepare(con: duckdb.DuckDBPyConnection, config: LedgerConfig, pii_key: str) -> None:
    """Ready a connection to build models: UDFs, `config.*` and `seeds.*` tables, raw tables."""
    try:
        con.remove_function("pii_hash")
    except (duckdb.InvalidInputException, duckdb.CatalogException):
        pass
    con.create_function(
        "pii_hash", _pii_hasher(pii_key), ["VARCHAR"], "VARCHAR", side_effects=False
    )
    con.execute("create schema if not exists config")
    con.execute(
        "create or replace table config.accounts (role varchar primary key, account varchar)"
    )
    con.executemany("insert into config.accounts values (?, ?)", list(config.accounts.items()))
    con.execute(
        "create or replace table config.clearing_accounts "
        "(currency varchar primary key, account varchar)"
    )
    con.executemany(
        "insert into config.clearing_accounts values (?, ?)", list(config.clearing_accounts.items())
    )
    con.execute(
        "create or replace table config.tolerances "
        "(check_name varchar primary key, tolerance decimal(18,4))"
    )
    con.executemany("insert into config.tolerances values (?, ?)", list(config.tolerances.items()))
    con.execute(
        "create or replace table config.settings (company varchar, cost_center varchar, "
        "match_window_business_days integer, forecast_horizon_days integer, "
        "vat_registered boolean)"
    )
    con.execute(
        "insert into config.settings values (?, ?, ?, ?, ?)",
        [
            config.company,
            config.cost_center,
            config.match_window_business_days,
            config.forecast_horizon_days,
            config.vat_registered,
        ],
    )
    con.execute(
        "create or replace table config.parties "
        "(role varchar primary key, party_type varchar, party varchar)"
    )
    for role, (kind, party) in config.parties.items():
        con.execute("insert into config.parties values (?, ?, ?)", [role, kind, party])
    load_seeds(con)
    ensure_raw_tables(con)
    con.execute("create schema if not exists bank")
    con.execute(
        "create table if not exists bank.statement_lines (source_file varchar, statement_id "
        "varchar, line_no integer, account_iban varchar, entry_reference varchar, booking_date "
        "date, value_date date, amount decimal(18,2), currency varchar, counterparty_name varchar,"
        " counterparty_iban varchar, description varchar, end_to_end_id varchar)"
    )


@dataclass
class BuildResult:
    model: Model
    rows: int
    seconds: float


def build_model(con: duckdb.DuckDBPyConnection, model: Model) -> BuildResult:
    """(Re)create `<schema>.<table>` from the model's SELECT; returns its row count."""
    started = time.perf_counter()
    con.execute(f"create schema if not exists {model.schema}")
    try:
        con.execute(f"create or replace table {model.schema}.{model.name} as\n{model.sql}")
    except duckdb.Error as exc:
        raise RuntimeError(
            f"model {model.schema}.{model.name} ({model.path.name}) failed: {exc}"
        ) from exc
    rows = con.execute(f"select count(*) from {model.schema}.{model.name}").fetchone()[0]
    return BuildResult(model, rows, time.perf_counter() - started)


def build_all(
    con: duckdb.DuckDBPyConnection,
    config: LedgerConfig,
    pii_key: str,
    models: Iterable[Model] | None = None,
) -> list[BuildResult]:
    """Build every model (or the given ones) in dependency order."""
    prepare(con, config, pii_key)
    return [build_model(con, m) for m in (models if models is not None else discover())]
