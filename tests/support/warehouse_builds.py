"""Building a real warehouse from the sandbox over HTTP (extract, bank statements, every model),
for the transforms tests and, loaded by path, the export tests. A module of its own name: every
test folder has a `conftest`, and `from conftest import` picks whichever was imported first."""

from __future__ import annotations

from pathlib import Path

import duckdb

from extract.bank import load_bank_statements
from extract.pipeline import run_extract
from extract.settings import ClientSettings
from sandbox.bank import write_camt053
from sandbox.generate import SandboxConfig
from sandbox.server import DEFAULT_ACCESS_TOKEN, SandboxServer
from transforms.build import build_all
from transforms.config import LedgerConfig

PII_KEY = "test-pii-key"


def build_warehouse(
    folder: Path, seed: int, payments: int = 900, days: int = 70, **families: bool
) -> Path:
    """Extract a sandbox into folder/w.duckdb, drop its CAMT.053 in folder/bank, build models.
    `families` turn on the sandbox's opt-in worlds (platform=True, every_type=True)."""
    config = SandboxConfig.from_cli(
        seed=seed, payments=payments, days=days, now="2026-11-01T00:00:00Z", **families
    )
    db = folder / "w.duckdb"
    with SandboxServer(config) as server:
        settings = ClientSettings(
            base_url=server.base_url, token=DEFAULT_ACCESS_TOKEN, rate_per_second=1000, burst=1000
        )
        run_extract(db, settings=settings)
        write_camt053(server.world, folder / "bank")
    rebuild(db, bank=folder / "bank")
    return db


def rebuild(db: Path, bank: Path | None = None) -> None:
    con = duckdb.connect(str(db))
    try:
        if bank is not None:
            load_bank_statements(con, bank)
        build_all(con, LedgerConfig.load(), PII_KEY)
    finally:
        con.close()
