"""Seed tables: the business rules kept as data, one CSV per table under transforms/seeds/.

`transforms/seeds/<table>.csv` becomes `seeds.<table>` in the warehouse, every column VARCHAR
(a seed holds names and codes, never money), rebuilt whenever a connection is prepared, so the
file in the repository is the one truth and a model joins it like any other table.
"""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb

SEEDS_DIR = Path(__file__).parent / "seeds"
SCHEMA = "seeds"


def read_seed(path: Path) -> tuple[list[str], list[list[str]]]:
    """The header and the rows of one seed file; a blank cell is NULL."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = [row for row in reader if row and any(cell.strip() for cell in row)]
    for n, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise ValueError(f"{path}: line {n} has {len(row)} cells, the header has {len(header)}")
    return header, rows


def load_seeds(con: duckdb.DuckDBPyConnection, folder: Path = SEEDS_DIR) -> list[str]:
    """(Re)create `seeds.<table>` for every CSV in `folder`; returns the table names."""
    con.execute(f"create schema if not exists {SCHEMA}")
    loaded = []
    for path in sorted(folder.glob("*.csv")):
        header, rows = read_seed(path)
        columns = ", ".join(f'"{name}" VARCHAR' for name in header)
        con.execute(f'create or replace table {SCHEMA}."{path.stem}" ({columns})')
        if rows:
            marks = ", ".join("?" for _ in header)
            con.executemany(
                f'insert into {SCHEMA}."{path.stem}" values ({marks})',
                [[cell.strip() or None for cell in row] for row in rows],
            )
        loaded.append(path.stem)
    return loaded
