"""Deployment tests: each `mollie-ledger` subprocess gets its own folder for everything it writes
and talks to a sandbox served over HTTP (deployment_helpers)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from deployment_helpers import PII_KEY, Sandbox, clean_env


@pytest.fixture
def cli_env() -> Callable[..., dict[str, str]]:
    """The environment of a `mollie-ledger` subprocess: this sandbox, this folder, nothing else."""

    def make(folder: Path, sandbox: Sandbox, **extra: str) -> dict[str, str]:
        return clean_env(
            MOLLIE_ACCESS_TOKEN=sandbox.token,
            MOLLIE_API_BASE_URL=sandbox.url,
            MOLLIE_RATE_PER_SECOND="0",
            MOLLIE_LEDGER_PII_KEY=PII_KEY,
            MOLLIE_LEDGER_DB=str(folder / "mollie_ledger.duckdb"),
            MOLLIE_LEDGER_BANK_DIR=str(folder / "bank"),
            MOLLIE_LEDGER_EXPORT_DIR=str(folder / "exports"),
            MOLLIE_LEDGER_REPORT_DIR=str(folder / "report"),
            MOLLIE_LEDGER_QUALITY_DOCS=str(folder / "quality-docs"),
            **extra,
        )

    return make
