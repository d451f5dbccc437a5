"""The pipeline's DuckDB connections have DuckDB's memory capped (the peak RSS of a load).

Left at DuckDB's default (80 % of RAM) the load's buffer pool grew with the data; the cap is
`MOLLIE_LEDGER_DUCKDB_MEMORY_LIMIT`, 512MB when unset.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from extract.pipeline import (
    DEFAULT_DUCKDB_MEMORY_LIMIT,
    ENV_DUCKDB_MEMORY_LIMIT,
    duckdb_memory_limit,
    make_pipeline,
)


def as_duckdb_reports(limit: str) -> str:
    """`limit` as DuckDB shows it back (`512MB` reads as `488.2 MiB`)."""
    with duckdb.connect(":memory:") as con:
        con.execute("SET memory_limit = ?", [limit])
        return con.execute("SELECT current_setting('memory_limit')").fetchone()[0]


def setting(pipeline, name: str) -> str:
    with pipeline.sql_client() as client:
        return client.execute_sql(f"SELECT current_setting('{name}')")[0][0]


def test_default_limit_is_set_on_the_pipeline_connection(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv(ENV_DUCKDB_MEMORY_LIMIT, raising=False)
    pipeline = make_pipeline(tmp_path / "w.duckdb")
    assert setting(pipeline, "memory_limit") == as_duckdb_reports(DEFAULT_DUCKDB_MEMORY_LIMIT)


def test_env_overrides_the_limit(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(ENV_DUCKDB_MEMORY_LIMIT, "1GiB")
    pipeline = make_pipeline(tmp_path / "w.duckdb")
    assert setting(pipeline, "memory_limit") == as_duckdb_reports("1GiB")


def test_spills_beside_the_warehouse(tmp_path: Path, monkeypatch) -> None:
    # Over the cap DuckDB spills to disk; DuckDB's default folder is `<file>.tmp` beside the
    # warehouse (not a shared /tmp that may be small or a RAM disk).
    monkeypatch.delenv(ENV_DUCKDB_MEMORY_LIMIT, raising=False)
    pipeline = make_pipeline(tmp_path / "w.duckdb")
    assert Path(setting(pipeline, "temp_directory")) == tmp_path / "w.duckdb.tmp"


@pytest.mark.parametrize("value", ["", "  "])
def test_blank_env_means_the_default(monkeypatch, value: str) -> None:
    monkeypatch.setenv(ENV_DUCKDB_MEMORY_LIMIT, value)
    assert duckdb_memory_limit() == DEFAULT_DUCKDB_MEMORY_LIMIT


def test_a_value_duckdb_cannot_read_fails_before_the_run(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(ENV_DUCKDB_MEMORY_LIMIT, "lots")
    with pytest.raises(ValueError, match=ENV_DUCKDB_MEMORY_LIMIT):
        make_pipeline(tmp_path / "w.duckdb")
