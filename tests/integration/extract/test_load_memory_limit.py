"""The load itself (the `read_json` inserts and dlt's merge) runs under the memory cap.

The unit tests see the setting on a connection the pipeline opens; this one sees it from inside
a load job of a real run, which is where the memory went.
"""

from __future__ import annotations

from conftest import extract_into, sandbox_config

from extract import duckdb_load
from extract.pipeline import ENV_DUCKDB_MEMORY_LIMIT
from sandbox.server import SandboxServer


def test_load_jobs_run_under_the_configured_limit(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(ENV_DUCKDB_MEMORY_LIMIT, "300MB")
    seen: list[str] = []
    run = duckdb_load.TypedCopyJob.run

    def spying_run(job) -> None:
        rows = job._job_client.sql_client.execute_sql("SELECT current_setting('memory_limit')")
        seen.append(rows[0][0])
        run(job)

    monkeypatch.setattr(duckdb_load.TypedCopyJob, "run", spying_run)
    with SandboxServer(sandbox_config(payments=60, days=10)) as server:
        extract_into(tmp_path / "w.duckdb", server)
    assert seen
    assert set(seen) == {"286.1 MiB"}  # 300MB as DuckDB reports it
