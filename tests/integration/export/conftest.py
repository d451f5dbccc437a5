"""Export tests: a real warehouse (sandbox over HTTP → DuckDB, every mart) and a Frappe test
stand-in over HTTP (sandbox/frappe/)."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
import warehouse_builds

from export.frappe_client import FrappeClient
from export.settings import FrappeSettings
from quality.gate_results import GATE_TABLE, ensure_gate_table
from sandbox.frappe import FrappeTestServer


@pytest.fixture(scope="session")
def build_warehouse() -> Callable[..., Path]:
    """build_warehouse(folder, seed, **worlds), as the transforms tests build theirs."""
    return warehouse_builds.build_warehouse


@pytest.fixture(scope="session")
def built_warehouse(tmp_path_factory) -> Path:
    """Seed 7, as small as still gives matched EUR and GBP settlements and fee invoices."""
    return warehouse_builds.build_warehouse(tmp_path_factory.mktemp("export-wh"), 7)


@pytest.fixture
def db(built_warehouse, tmp_path) -> Path:
    """A private copy of the warehouse: each test starts with no outbox and no gate results."""
    path = tmp_path / "w.duckdb"
    shutil.copy(built_warehouse, path)
    return path


@pytest.fixture
def con(db) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(str(db))
    yield connection
    connection.close()


@pytest.fixture
def frappe() -> Iterator[FrappeTestServer]:
    with FrappeTestServer() as server:
        yield server


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def frappe_settings(frappe) -> FrappeSettings:
    return FrappeSettings(
        url=frappe.url,
        api_key=frappe.api_key,
        api_secret=frappe.api_secret,
        attempts=5,
        backoff_initial=0.01,
        backoff_max=0.05,
    )


@pytest.fixture
def client(frappe_settings, sleeps) -> Iterator[FrappeClient]:
    """Retries sleep into `sleeps` instead of the clock: the waits are asserted, not waited."""
    with FrappeClient(frappe_settings, sleep=sleeps.append) as c:
        yield c


def record_gate(
    con: duckdb.DuckDBPyConnection,
    *,
    passed: bool,
    severity: str = "ERROR",
    check: str = "settlement_identities",
    when: datetime | None = None,
) -> None:
    ensure_gate_table(con)
    con.execute(
        f"insert into {GATE_TABLE} values (?, ?, ?, ?, ?, ?, ?)",
        [
            "run-1",
            when or datetime.now(UTC),
            "marts/settlement_reconciliation",
            check,
            passed,
            severity,
            0 if passed else 3,
        ],
    )


@pytest.fixture
def gates_passed(db) -> Path:
    with duckdb.connect(str(db)) as c:
        record_gate(c, passed=True)
    return db


@pytest.fixture
def record_gate_result() -> Callable[..., None]:
    return record_gate
