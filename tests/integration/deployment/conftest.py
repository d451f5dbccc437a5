"""Deployment tests: `mollie-ledger run` as a user (or cron) starts it, a real subprocess against
a Mollie sandbox served over HTTP by `mollie-ledger sandbox`, with its own folder for everything
it writes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

# The installed command, as a user or cron runs it (wherever its module lives in the package).
CLI = str(Path(sys.executable).with_name("mollie-ledger"))
PII_KEY = "deployment-tests-" + "0" * 32  # with a token the demo key is refused
# A small world whose history stays fixed (--start) while --now moves: a later sandbox serves
# the same past plus new activity, as Mollie would a day later.
START = "2026-10-01"


@dataclass(frozen=True)
class Sandbox:
    url: str
    token: str


@contextmanager
def serve_sandbox(now: str, payments: int = 300) -> Iterator[Sandbox]:
    proc = subprocess.Popen(
        [
            *(CLI, "sandbox", "--port", "0"),
            *("--payments", str(payments), "--days", "30", "--start", START, "--now", now),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        url = token = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (url and token):
            line = proc.stdout.readline()
            if not line:
                break
            if line.startswith("Mollie sandbox serving "):
                url = line.split()[-1]
            elif "MOLLIE_ACCESS_TOKEN=" in line:
                token = line.split("=", 1)[1].split()[0]
        assert url and token, "the sandbox never said where it serves"
        yield Sandbox(url, token)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


@dataclass(frozen=True)
class RunResult:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cli_env() -> Callable[..., dict[str, str]]:
    """The environment of a `mollie-ledger` subprocess: this sandbox, this folder, nothing else."""

    def make(folder: Path, sandbox: Sandbox, **extra: str) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("MOLLIE_", "SOURCES__MOLLIE", "FRAPPE_", "DAGSTER_"))
        }
        env.update(
            {
                "MOLLIE_ACCESS_TOKEN": sandbox.token,
                "MOLLIE_API_BASE_URL": sandbox.url,
                "MOLLIE_RATE_PER_SECOND": "0",
                "MOLLIE_LEDGER_PII_KEY": PII_KEY,
                "MOLLIE_LEDGER_DB": str(folder / "mollie_ledger.duckdb"),
                "MOLLIE_LEDGER_BANK_DIR": str(folder / "bank"),
                "MOLLIE_LEDGER_EXPORT_DIR": str(folder / "exports"),
                "MOLLIE_LEDGER_REPORT_DIR": str(folder / "report"),
                "MOLLIE_LEDGER_QUALITY_DOCS": str(folder / "quality-docs"),
            }
        )
        env.update(extra)
        return env

    return make


def run_cli(env: dict[str, str], *args: str, timeout: float = 400) -> RunResult:
    done = subprocess.run(
        [CLI, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return RunResult(done.returncode, done.stdout, done.stderr)
