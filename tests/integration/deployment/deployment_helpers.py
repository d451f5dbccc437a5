"""Deployment tests' helpers: `mollie-ledger run` as a user (or cron) starts it, a real subprocess
against a Mollie sandbox served over HTTP by `mollie-ledger sandbox`.

A module with a name of its own (not conftest): test folders each have a `conftest`, and
importing one by that name picks whichever was loaded first."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

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


def clean_env(**settings: str) -> dict[str, str]:
    """This process's environment without any Mollie, Frappe or Dagster setting of the machine
    running the tests, plus `settings`: a subprocess sees only what the test gives it."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MOLLIE_", "SOURCES__MOLLIE", "FRAPPE_", "DAGSTER_"))
    }
    env.update(settings)
    return env


@dataclass(frozen=True)
class RunResult:
    returncode: int
    stdout: str
    stderr: str


def run_cli(
    env: dict[str, str], *args: str, timeout: float = 400, cwd: Path | None = None
) -> RunResult:
    done = subprocess.run(
        [CLI, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )
    return RunResult(done.returncode, done.stdout, done.stderr)
