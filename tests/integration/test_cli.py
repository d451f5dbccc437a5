"""The CLI as a user runs it: a real subprocess, real HTTP."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import httpx
import pytest
from click.testing import CliRunner

from cli.main import main


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["sandbox"],
        ["demo"],
        ["run"],
        ["extract"],
        ["export"],
        ["webhooks"],
        ["query"],
        ["shell"],
    ],
)
def test_every_command_has_help(command):
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_sandbox_command_serves_mollie_until_stopped(tmp_path):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli.main",
            "sandbox",
            "--port",
            "0",
            "--payments",
            "300",
            "--days",
            "30",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = None
        deadline = time.time() + 60
        while time.time() < deadline and url is None:
            line = proc.stdout.readline()
            if line.startswith("Mollie sandbox serving "):
                url = line.split()[-1]
        assert url, "the sandbox never said where it serves"
        token_line = next(
            line for line in iter(proc.stdout.readline, "") if "MOLLIE_ACCESS_TOKEN" in line
        )
        token = token_line.split("=", 1)[1].split()[0]
        r = httpx.get(f"{url}/balances", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/hal+json")
        assert r.json()["count"] == 2
        assert httpx.get(f"{url}/balances").status_code == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    assert proc.returncode == 0


@pytest.mark.parametrize("command", [["run"], ["extract"]])
def test_without_a_token_run_and_extract_say_what_to_set(command, tmp_path, monkeypatch):
    for name in ("MOLLIE_ACCESS_TOKEN", "SOURCES__MOLLIE__ACCESS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MOLLIE_LEDGER_DB", str(tmp_path / "w.duckdb"))
    started = time.monotonic()
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 1, result.output
    assert "no Mollie token: set MOLLIE_ACCESS_TOKEN" in result.output
    assert "mollie-ledger demo" in result.output and "make ui" in result.output
    assert time.monotonic() - started < 30  # before any extract work


def test_bad_option_is_a_clear_error():
    result = CliRunner().invoke(main, ["sandbox", "--now", "yesterday"])
    assert result.exit_code != 0
    assert "ISO 8601" in result.output


@pytest.fixture
def restore_environ():
    """`demo` configures its run through os.environ; keep that out of the other tests."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def test_demo_runs_the_pipeline_and_reports(tmp_path, restore_environ):
    result = CliRunner().invoke(
        main, ["demo", "--payments", "300", "--days", "30", "--folder", str(tmp_path / "demo")]
    )
    assert result.exit_code == 0, result.output
    assert "Reconciliation findings: none" in result.output
    assert "matched to a bank deposit" in result.output
    identity = re.search(r"Clearing identity .*: (\d+) days checked .*, (\d+) off", result.output)
    assert identity is not None, result.output
    assert int(identity.group(1)) >= 30 and int(identity.group(2)) == 0
    assert (tmp_path / "demo" / "mollie_ledger.duckdb").exists()
    published = tmp_path / "demo" / "mollie_ledger.published.duckdb"
    assert f"Published for analysts: {published} (run " in result.output
    report = tmp_path / "demo" / "report" / "index.html"
    assert f"Financial report: {report.resolve()}" in result.output
    assert "<h2>Payouts</h2>" in report.read_text(encoding="utf-8")
