"""Export tests: a real warehouse (sandbox over HTTP → DuckDB, every mart) and a Frappe test
stand-in over HTTP (sandbox/frappe/)."""

from __future__ import annotations

import dataclasses
import importlib.util
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from export.frappe_client import FrappeClient
from export.settings import FrappeSettings
from quality.gate_results import GATE_TABLE, ensure_gate_table
from sandbox.frappe import Account, Chart, FrappeTestServer
from transforms.config import LedgerConfig

_TRANSFORMS_CONFTEST = Path(__file__).parents[1] / "transforms" / "conftest.py"


def _build_warehouse() -> Callable[..., Path]:
    # Loaded by path under its own name: every test folder has a module called `conftest`.
    spec = importlib.util.spec_from_file_location("_export_tests_warehouse", _TRANSFORMS_CONFTEST)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build_warehouse


@pytest.fixture(scope="session")
def built_warehouse(tmp_path_factory) -> Path:
    """Seed 7, as small as still gives matched EUR and GBP settlements and fee invoices."""
    return _build_warehouse()(tmp_path_factory.mktemp("export-wh"), 7)


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


# Where each role's account sits in an ERPNext chart: (root type, account type, parent group).
_ROLE_PLACES = {
    "commissions": ("Income", "Income Account", "Direct Income - VGV"),
    "corrections": ("Expense", "Expense Account", "Indirect Expenses - VGV"),
    "split_payments": ("Liability", "", "Current Liabilities - VGV"),
    "loan": ("Liability", "", "Current Liabilities - VGV"),
    "reserve": ("Asset", "", "Current Assets - VGV"),
    "internal_transfers": ("Asset", "", "Current Assets - VGV"),
}


def chart_for_the_ledger_config() -> Chart:
    """The stand-in's default chart plus any account the default ledger configuration names
    that it lacks, placed as an ERPNext chart would hold it, so every role can post."""
    chart = Chart.default()
    company = LedgerConfig.load(env={}).company
    added = {}
    for role, name in LedgerConfig.load(env={}).accounts.items():
        if name in chart.accounts or role not in _ROLE_PLACES:
            continue
        root, kind, parent = _ROLE_PLACES[role]
        added[name] = Account(name, company, root, kind, parent_account=parent)
    return dataclasses.replace(chart, accounts={**chart.accounts, **added})


@pytest.fixture
def frappe() -> Iterator[FrappeTestServer]:
    with FrappeTestServer(chart_for_the_ledger_config()) as server:
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
