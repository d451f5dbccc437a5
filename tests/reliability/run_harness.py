"""`mollie-ledger` as a user runs it, in a subprocess: a folder per deployment, its environment.

The Mollie sandbox and the Frappe stand-in are served by the test process over real HTTP; the
run reaches them only through the environment a deployment sets (a token, so no in-process
sandbox). Every path the run writes (warehouse, bank drop folder, exports, report, Data Docs,
metrics, optionally DAGSTER_HOME) lives in the folder, so a test can inspect or scan all of it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from sandbox.bank import write_camt053
from sandbox.frappe import FrappeTestServer
from sandbox.server import SandboxServer

REPO = Path(__file__).resolve().parents[2]
CRASHPOINTS = Path(__file__).resolve().parent / "crashpoints.py"
RUN_TIMEOUT = 420  # seconds; a full run takes one to two minutes on a busy two-core machine
# Variables of the outer environment that would point a run elsewhere.
_INHERITED = ("MOLLIE_", "SOURCES__MOLLIE__", "FRAPPE_", "DAGSTER_", "PROMETHEUS_", "RELIABILITY_")


@dataclass(frozen=True)
class Deployment:
    """One deployment's folder and the services it talks to."""

    root: Path
    sandbox: SandboxServer
    frappe: FrappeTestServer | None = None
    pii_key: str = "reliability-pii-key"
    dagster_home: bool = False

    @property
    def db(self) -> Path:
        return self.root / "warehouse" / "w.duckdb"

    @property
    def bank(self) -> Path:
        return self.root / "bank"

    def prepare(self) -> Deployment:
        """The merchant's bank statement in the drop folder (a real token: none is generated),
        and DAGSTER_HOME with the project's dagster.yaml, as `mollie-ledger ui` sets it up (its
        one-slot DuckDB pool is what a killed run can leave claimed)."""
        write_camt053(self.sandbox.world, self.bank)
        if self.dagster_home:
            home = self.root / "dagster_home"
            home.mkdir(parents=True, exist_ok=True)
            shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
        return self

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(_INHERITED)}
        env.update(
            {
                "PYTHONUNBUFFERED": "1",
                "MOLLIE_ACCESS_TOKEN": self.sandbox.access_token,
                "MOLLIE_API_BASE_URL": self.sandbox.base_url,
                "MOLLIE_RATE_PER_SECOND": "0",
                "MOLLIE_LEDGER_PII_KEY": self.pii_key,
                "MOLLIE_LEDGER_DB": str(self.db),
                "MOLLIE_LEDGER_BANK_DIR": str(self.bank),
                "MOLLIE_LEDGER_EXPORT_DIR": str(self.root / "exports"),
                "MOLLIE_LEDGER_REPORT_DIR": str(self.root / "report"),
                "MOLLIE_LEDGER_QUALITY_DOCS": str(self.root / "quality-docs"),
                "MOLLIE_LEDGER_METRICS_FILE": str(self.root / "metrics" / "mollie_ledger.prom"),
                "MOLLIE_LEDGER_WEBHOOK_QUEUE": str(self.root / "webhooks.sqlite"),
            }
        )
        if self.frappe is not None:
            env["FRAPPE_URL"] = self.frappe.url
            env["FRAPPE_API_KEY"] = self.frappe.api_key
            env["FRAPPE_API_SECRET"] = self.frappe.api_secret
        if self.dagster_home:
            env["DAGSTER_HOME"] = str(self.root / "dagster_home")
        return env

    def start(self, *args: str, crash: str | None = None) -> subprocess.Popen[str]:
        """`mollie-ledger <args>` in the background (with a crash point armed, if given)."""
        env = self.env()
        if crash:
            env["RELIABILITY_CRASH"] = crash
        return subprocess.Popen(
            [sys.executable, str(CRASHPOINTS), *args],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run(self, *args: str, crash: str | None = None) -> subprocess.CompletedProcess[str]:
        """`mollie-ledger <args>` to the end (or to its crash point)."""
        return finish(self.start(*args, crash=crash), args)


def finish(proc: subprocess.Popen[str], args: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    try:
        out, err = proc.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"mollie-ledger {' '.join(args)} hung\n{out}\n{err}") from None
    return subprocess.CompletedProcess(list(args), proc.returncode, out, err)
