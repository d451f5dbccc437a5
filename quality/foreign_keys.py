"""The `rows` frame: a table as its suite sees it, plus helper columns computed in SQL.

The catalogue of foreign keys (`<fk>_exists`, NULL when the key is NULL) and of the few derived
flags some tables carry (a journal line's account is in the chart, its entry balances), read from
each model's contract (quality.contracts), and the SQL that reads a table with them: money as
exact text, dates as UTC instants.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from quality.contracts import SUFFIX, ContractError, by_table, contract
from quality.tables import describe, quote


@dataclass(frozen=True)
class ForeignKey:
    column: str
    parent: str  # schema.table
    parent_column: str

    @property
    def helper(self) -> str:
        return f"{self.column}_exists"

    def sql(self) -> str:
        # NULL key -> NULL flag (GX map expectations skip NULLs: optional keys stay optional);
        # the parent's NULLs are filtered so `x in (...)` is never NULL for a real miss.
        return (
            f"t.{self.column} in (select {self.parent_column} from {self.parent} "
            f"where {self.parent_column} is not null)"
        )


def _foreign_keys(table: str) -> tuple[ForeignKey, ...]:
    entries = contract(table).get("foreign_keys", [])
    try:
        return tuple(ForeignKey(e["column"], e["parent"], e["parent_column"]) for e in entries)
    except (KeyError, TypeError) as exc:
        raise ContractError(
            f"{table}{SUFFIX}: each foreign key needs column, parent and parent_column"
        ) from exc


def _derived(table: str) -> dict[str, str]:
    entries = contract(table).get("derived_flags", [])
    try:
        return {e["column"]: e["sql"] for e in entries}
    except (KeyError, TypeError) as exc:
        raise ContractError(f"{table}{SUFFIX}: each derived flag needs column and sql") from exc


# Read from each model's contract (transforms/<layer>/<table>.contract.json): only tables that
# declare some are listed.
FOREIGN_KEYS: dict[str, tuple[ForeignKey, ...]] = {
    table: fks for table in by_table() if (fks := _foreign_keys(table))
}

# Flags that need exact arithmetic or another table, computed in SQL over the table aliased `t`.
DERIVED: dict[str, dict[str, str]] = {
    table: flags for table in by_table() if (flags := _derived(table))
}


def rows_sql(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> str:
    selected = []
    for name, dtype in describe(con, schema, table):
        selected.append(f"{_as_exact(f't.{quote(name)}', dtype)} as {quote(name)}")
    selected += [f"{fk.sql()} as {fk.helper}" for fk in FOREIGN_KEYS.get(table, ())]
    selected += [f"{sql} as {helper}" for helper, sql in DERIVED.get(table, {}).items()]
    return f"select {', '.join(selected)} from {schema}.{table} as t"


def _as_exact(expression: str, dtype: str) -> str:
    """How a column enters pandas: money as exact text, dates as UTC instants."""
    if dtype.startswith("DECIMAL"):
        return f"cast({expression} as varchar)"
    if dtype == "DATE":
        return f"({expression}::timestamp at time zone 'UTC')"
    if dtype in ("HUGEINT", "UBIGINT"):  # pandas would make these float64
        return f"cast({expression} as bigint)"
    if dtype == "JSON":
        return f"cast({expression} as varchar)"
    return expression
