"""Fixtures of the reliability suite: the clean warehouse every attack is compared with, and the
recorder of measured results that docs/reliability.md is written from (write_report.py)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
import warehouse_builds
from deployment_history import History, live
from reliability_support import DAYS, PAYMENTS, SEED, fingerprint

# Set by write_report.py: where the measured results of this session go.
ENV_RESULTS = "RELIABILITY_RESULTS"


@pytest.fixture(scope="session")
def clean_warehouse(tmp_path_factory) -> Path:
    """The sandbox world extracted with no faults, bank statements loaded, every model built."""
    folder = tmp_path_factory.mktemp("clean")
    return warehouse_builds.build_warehouse(folder, SEED, payments=PAYMENTS, days=DAYS)


@pytest.fixture(scope="session")
def clean_fingerprint(clean_warehouse) -> dict[str, dict[str, Any]]:
    return fingerprint(clean_warehouse)


@pytest.fixture(scope="session")
def company_entries(clean_warehouse) -> list[str]:
    """Posting keys of the entries a run posts: those in the company currency (EUR); the others
    wait in review (no exchange rates)."""
    con = duckdb.connect(str(clean_warehouse), read_only=True)
    try:
        rows = con.execute(
            "select posting_key from marts.journal_entries where currency = 'EUR' order by 1"
        ).fetchall()
    finally:
        con.close()
    return [key for (key,) in rows]


@pytest.fixture(scope="session")
def history(tmp_path_factory, company_entries) -> History:
    """The deployment's life of deployment_history.py, played once per session."""
    return live(tmp_path_factory.mktemp("deployment"), len(company_entries))


class Measured:
    """Scenario results as the tests measured them: counts tried, lost, duplicated and a note."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def record(
        self, area: str, scenario: str, *, tried: int, lost: int, duplicated: int, note: str
    ) -> None:
        self.rows.append(
            {
                "area": area,
                "scenario": scenario,
                "tried": tried,
                "lost": lost,
                "duplicated": duplicated,
                "note": note,
            }
        )


@pytest.fixture(scope="session")
def measured() -> Iterator[Measured]:
    results = Measured()
    yield results
    target = os.environ.get(ENV_RESULTS)
    if target:
        Path(target).write_text(json.dumps(results.rows, indent=2, default=str) + "\n")
