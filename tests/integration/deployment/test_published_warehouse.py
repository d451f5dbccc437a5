"""The published warehouse through whole `mollie-ledger run`s, with an analyst's read-only
session open in another process the whole time: the run is never blocked, the analyst keeps the
copy they opened until reconnecting, and a gated run leaves the last good copy in place."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from analyst_session import snapshot
from deployment_helpers import run_cli, serve_sandbox

ANALYST = Path(__file__).with_name("analyst_session.py")
EARLIER, LATER = "2026-10-25T00:00:00Z", "2026-11-01T00:00:00Z"


class Analyst:
    """A read-only session on the published file, held by another process."""

    def __init__(self, path: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(ANALYST), str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.first = self._read()

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        assert line, "the analyst's session ended"
        return json.loads(line)

    def ask(self, command: str = "look") -> dict:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def _fail_text(result) -> str:
    return result.stdout + "\n" + result.stderr[-4000:]


@pytest.mark.slow
def test_an_open_analyst_session_never_blocks_a_run_and_sees_the_new_books_on_reconnect(
    tmp_path, cli_env
):
    published = tmp_path / "mollie_ledger.published.duckdb"
    with serve_sandbox(now=EARLIER) as sandbox:
        first = run_cli(cli_env(tmp_path, sandbox), "run")
    assert first.returncode == 0, _fail_text(first)
    assert f"Published for analysts: {published}" in first.stdout

    analyst = Analyst(published)
    try:
        before = analyst.first
        assert before["run_id"] in first.stdout
        # A day later, Mollie has more to say; the analyst's connection stays open throughout.
        with serve_sandbox(now=LATER) as sandbox:
            env = cli_env(tmp_path, sandbox)
            second = run_cli(env, "run")
            assert second.returncode == 0, _fail_text(second)
            assert analyst.ask() == before  # still the copy it opened
            after = analyst.ask("reconnect")
            # The CLI reads the same file, while the analyst's session is still open on it.
            queried = run_cli(
                env, "query", "select run_id, rows from publication.about", "--format", "json"
            )
    finally:
        analyst.close()

    assert after["run_id"] != before["run_id"] and after["run_id"] in second.stdout
    assert after["marts"]["balance_ledger"]["rows"] > before["marts"]["balance_ledger"]["rows"]
    with duckdb.connect(str(tmp_path / "mollie_ledger.duckdb"), read_only=True) as warehouse:
        assert after["marts"] == snapshot(warehouse)  # every count and DECIMAL sum, exactly
    assert queried.returncode == 0, _fail_text(queried)
    [about] = json.loads(queried.stdout)
    assert about["run_id"] == after["run_id"] and about["rows"] > 0


@pytest.mark.slow
def test_a_run_stopped_by_a_gate_keeps_the_last_good_publication(tmp_path, cli_env):
    published = tmp_path / "mollie_ledger.published.duckdb"
    with serve_sandbox(now=EARLIER) as sandbox:
        env = cli_env(tmp_path, sandbox)
        good = run_cli(env, "run")
        assert good.returncode == 0, _fail_text(good)
        digest = hashlib.sha256(published.read_bytes()).hexdigest()
        with duckdb.connect(str(published), read_only=True) as con:
            good_run = con.execute("select run_id from publication.about").fetchone()[0]
        # The oldest ledger row (no later extract reads it again) in a currency Mollie does
        # not have: the staging gate fails with ERROR, and everything below it is skipped.
        with duckdb.connect(str(tmp_path / "mollie_ledger.duckdb")) as con:
            con.execute(
                "update mollie.balance_transactions set result_amount_currency = 'XXX' where id ="
                " (select id from mollie.balance_transactions order by created_at, id limit 1)"
            )
        gated = run_cli(env, "run")
        queried = run_cli(env, "query", "select run_id from publication.about", "--format", "csv")

    assert gated.returncode == 1, _fail_text(gated)
    assert "stg_mollie__balance_transactions" in gated.stdout
    assert (
        f"Not published (the run failed): analysts keep the last good one, {published} "
        f"(run {good_run}," in gated.stdout
    )
    assert hashlib.sha256(published.read_bytes()).hexdigest() == digest  # not touched
    assert queried.stdout.split() == ["run_id", good_run]
