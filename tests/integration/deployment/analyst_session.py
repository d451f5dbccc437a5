"""An analyst's session on the published warehouse, as a separate process (a notebook or the
DuckDB CLI left open): it holds one read-only connection and, for each line on stdin, prints
what it sees as one JSON line; "reconnect" closes and opens the file again first.

`snapshot` is also what the tests compare against the working warehouse: every mart's row count
and the exact sum of each of its DECIMAL columns (as text, so no float rounds a cent).
"""

from __future__ import annotations

import json
import sys

import duckdb


def snapshot(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, object]]:
    marts: dict[str, dict[str, object]] = {}
    for table, column in con.execute(
        "select c.table_name, c.column_name from information_schema.columns c "
        "join information_schema.tables t using (table_catalog, table_schema, table_name) "
        "where c.table_schema = 'marts' and t.table_type = 'BASE TABLE' "
        "and c.data_type like 'DECIMAL%' order by all"
    ).fetchall():
        marts.setdefault(table, {})[column] = str(
            con.execute(f'select sum("{column}") from marts."{table}"').fetchone()[0]
        )
    for (table,) in con.execute(
        "select table_name from information_schema.tables "
        "where table_schema = 'marts' and table_type = 'BASE TABLE'"
    ).fetchall():
        marts.setdefault(table, {})["rows"] = con.execute(
            f'select count(*) from marts."{table}"'
        ).fetchone()[0]
    return marts


def main(path: str) -> None:
    con = duckdb.connect(path, read_only=True)

    def show() -> None:
        run_id = con.execute("select run_id from publication.about").fetchone()[0]
        print(json.dumps({"run_id": run_id, "marts": snapshot(con)}), flush=True)

    show()
    for line in sys.stdin:
        if line.strip() == "reconnect":
            con.close()
            con = duckdb.connect(path, read_only=True)
        show()


if __name__ == "__main__":
    main(sys.argv[1])
