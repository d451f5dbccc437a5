"""A real warehouse built from the sandbox over HTTP: extract, bank statements, every model."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from warehouse_builds import build_warehouse, rebuild


@pytest.fixture(scope="session", params=[7, 23])
def clean_warehouse(request, tmp_path_factory) -> Path:
    return build_warehouse(tmp_path_factory.mktemp(f"wh{request.param}"), request.param)


@pytest.fixture
def corrupt(clean_warehouse, tmp_path) -> Callable[..., duckdb.DuckDBPyConnection]:
    """Copy the clean warehouse, apply SQL to its raw tables, rebuild, return a connection."""
    opened: list[duckdb.DuckDBPyConnection] = []

    def apply(*statements: str, bank: Path | None = None) -> duckdb.DuckDBPyConnection:
        db = tmp_path / "w.duckdb"
        shutil.copy(clean_warehouse, db)
        con = duckdb.connect(str(db))
        for sql in statements:
            con.execute(sql)
        con.close()
        rebuild(db, bank=bank)
        con = duckdb.connect(str(db))
        opened.append(con)
        return con

    yield apply
    for con in opened:
        con.close()
