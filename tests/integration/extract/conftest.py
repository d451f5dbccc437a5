"""Shared helpers for the extract integration tests: a real sandbox over HTTP, real DuckDB files.

Worlds are small (hundreds of payments) so a full load takes seconds; the token bucket is off
because it protects Mollie, not a local sandbox.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
from sandbox_truth import Metrics, loaded

from extract.pipeline import ExtractResult, run_extract
from extract.records import TABLES
from extract.settings import ClientSettings
from sandbox.generate import SandboxConfig, World
from sandbox.server import DEFAULT_ACCESS_TOKEN, SandboxServer

NOW = "2026-11-01T00:00:00Z"


def sandbox_config(
    seed: int = 7, payments: int = 600, days: int = 45, now: str = NOW, start: str | None = None
) -> SandboxConfig:
    return SandboxConfig.from_cli(seed=seed, payments=payments, days=days, now=now, start=start)


def settings_for(server: SandboxServer, **overrides: Any) -> ClientSettings:
    values: dict[str, Any] = {
        "base_url": server.base_url,
        "token": DEFAULT_ACCESS_TOKEN,
        "rate_per_second": 0,
    }
    return ClientSettings(**{**values, **overrides})


def extract_into(db: Path, server: SandboxServer, **kwargs: Any) -> ExtractResult:
    """One `run_extract` of the whole source from `server` into `db`."""
    settings = kwargs.pop("settings", None) or settings_for(server)
    return run_extract(db, settings=settings, **kwargs)


@contextmanager
def warehouse(db: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        yield con
    finally:
        con.close()


def metrics(db: Path, world: World) -> Metrics:
    with warehouse(db) as con:
        return loaded(con, [b.id for b in world.balances])


def duplicate_keys(db: Path) -> dict[str, int]:
    """Rows beyond one per primary key, per table (empty when every key is unique)."""
    out: dict[str, int] = {}
    with warehouse(db) as con:
        for table in TABLES.values():
            key = ", ".join(table.primary_key)
            total, distinct = con.execute(
                f"SELECT count(*), count(DISTINCT ({key})) FROM mollie.{table.name}"
            ).fetchone()
            if total != distinct:
                out[table.name] = total - distinct
    return out


_ID = re.compile(r"/(bal|stl|tr|cst|sub|inv|re|chb)_[A-Za-z0-9]+")


def requests_by_endpoint(counts: Counter[str]) -> Counter[str]:
    """Server request counts grouped by endpoint: `/v2/settlements/{id}/payments` etc."""
    grouped: Counter[str] = Counter()
    for path, n in counts.items():
        grouped[_ID.sub("/{id}", path)] += n
    return grouped
