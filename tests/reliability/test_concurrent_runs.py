"""Two writers on one warehouse: the second is refused at once with what to do, never interleaved
with the first (extract.warehouse_lock), and the warehouse stays whole.

The two simultaneous `mollie-ledger run`s are the last step of the session's deployment history
(deployment_history.py); the other cases here are quick.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from cli.main import main
from extract.warehouse_lock import exclusive_warehouse
from orchestration.run_job import run_pipeline

BUSY = "another mollie-ledger run is using"


@pytest.mark.slow
def test_two_runs_started_together_one_runs_one_refuses(history, measured) -> None:
    by_code = {r.returncode: r for r in history.together}
    assert sorted(by_code) == [0, 1], [r.stdout + r.stderr for r in history.together]
    refused = by_code[1]
    assert f"{BUSY} {history.deployment.db}" in refused.stdout
    assert "wait for it to finish" in refused.stdout
    assert "Traceback" not in refused.stdout + refused.stderr
    assert "Marts (rows):" not in refused.stdout  # it did nothing
    said = refused.stdout.strip().splitlines()[-1].strip()
    said = re.sub(r"\(process \d+\)", "(process N)", said.replace(str(history.deployment.db), "…"))
    measured.record(
        "concurrency",
        "two `mollie-ledger run` started together",
        tried=2,
        lost=0,
        duplicated=0,
        note=f"one ran (its warehouse = clean run, see crashes); the other refused: “{said}”",
    )


def test_a_run_refuses_while_an_extract_holds_the_warehouse(tmp_path, monkeypatch) -> None:
    db = tmp_path / "w.duckdb"
    monkeypatch.setenv("MOLLIE_LEDGER_DB", str(db))  # run_pipeline sets it; restored after
    # Settings complete (the configuration check passes), so what refuses is the lock; the
    # address is served by nobody, as nothing may be requested.
    monkeypatch.delenv("SOURCES__MOLLIE__ACCESS_TOKEN", raising=False)
    monkeypatch.setenv("MOLLIE_ACCESS_TOKEN", "access_refusedbeforeanyrequest")
    monkeypatch.setenv("MOLLIE_API_BASE_URL", "http://127.0.0.1:9/v2")
    monkeypatch.setenv("MOLLIE_LEDGER_PII_KEY", "a-test-pii-key")
    started = time.monotonic()
    with exclusive_warehouse(db):
        summary = run_pipeline(db)
    assert not summary.success
    assert summary.failures == [
        f"{BUSY} {db} (process {os.getpid()}); wait for it to finish, or point this one at another "
        "warehouse (--db or MOLLIE_LEDGER_DB)"
    ]
    assert time.monotonic() - started < 5  # refused before Dagster or Mollie is touched


def test_extract_refuses_while_another_program_has_the_file_open(tmp_path, monkeypatch) -> None:
    db = tmp_path / "w.duckdb"
    monkeypatch.delenv("SOURCES__MOLLIE__ACCESS_TOKEN", raising=False)
    # Refused before any request: a token and an address nobody serves are enough.
    monkeypatch.setenv("MOLLIE_ACCESS_TOKEN", "access_refusedbeforeanyrequest")
    monkeypatch.setenv("MOLLIE_API_BASE_URL", "http://127.0.0.1:9/v2")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('open', flush=True);"
            " time.sleep(60)",
            str(db),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        result = CliRunner().invoke(main, ["extract", "--db", str(db), "--resources", "balances"])
    finally:
        holder.kill()
        holder.wait()
    assert result.exit_code == 1
    assert f"another program has {db} open (DuckDB allows one writer)" in result.output
    assert "Traceback" not in result.output
