"""Small facts about the warehouse's tables that the quality frames share: which layers have a
suite per table, a table's columns and types, the tables that exist, and SQL quoting."""

from __future__ import annotations

import duckdb

# The layers that have one suite per table; everything else (raw, bank, intermediate) is
# scanned for privacy by the suite that reads it first (quality.pii_scan.scan_owners).
GOVERNED = ("staging", "marts")
PAST_STAGING = ("intermediate", "marts")


def describe(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[tuple[str, str]]:
    """(column, DuckDB type) of a table, in order."""
    return con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, table],
    ).fetchall()


def warehouse_tables(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str]]:
    """Every base table of the warehouse file (temporary tables excluded)."""
    return set(
        con.execute(
            "select schema_name, table_name from duckdb_tables() "
            "where not temporary and database_name = current_database()"
        ).fetchall()
    )


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
