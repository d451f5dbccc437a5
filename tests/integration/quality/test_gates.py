"""Quality gates on a real sandbox warehouse: the clean books pass every suite; each way of
breaking the data fails the right suite, for the right reason, visibly in the result and in
Data Docs; and in a Dagster run the failed gate stops everything downstream."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from warehouse_builds import build_warehouse
from warehouse_builds import rebuild as rebuild_warehouse

from export.gates import GateRefusal, require_gates_passed
from orchestration.export_assets import export_assets
from orchestration.quality_checks import quality_checks
from orchestration.transform_assets import transform_assets
from orchestration.warehouse import Warehouse
from quality import docs
from quality.runner import SuiteResult, check_table
from quality.suites import read_all

SUITES = {s.name: s for s in read_all()}
PAN = "4111 1111 1111 1111"  # Visa's test number: Luhn-valid, 16 digits


@pytest.fixture(scope="session")
def docs_dir(tmp_path_factory) -> Iterator[Path]:
    """One Data Docs folder per session, also for the Dagster checks (they read the env)."""
    folder = tmp_path_factory.mktemp("quality-docs")
    previous = os.environ.get(docs.ENV_DOCS)
    os.environ[docs.ENV_DOCS] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop(docs.ENV_DOCS, None)
    else:
        os.environ[docs.ENV_DOCS] = previous


@pytest.fixture(scope="session")
def clean_db(tmp_path_factory) -> Path:
    return build_warehouse(tmp_path_factory.mktemp("quality-wh"), seed=7)


@pytest.fixture
def broken(clean_db, tmp_path) -> Iterator[Callable[..., duckdb.DuckDBPyConnection]]:
    """A copy of the clean warehouse with SQL applied, to raw tables (then rebuilt) or after."""
    opened = []

    def apply(*statements: str, rebuild: bool = False) -> duckdb.DuckDBPyConnection:
        db = tmp_path / "w.duckdb"
        shutil.copy(clean_db, db)
        con = duckdb.connect(str(db))
        for sql in statements:
            con.execute(sql)
        if rebuild:
            con.close()
            rebuild_warehouse(db)
            con = duckdb.connect(str(db))
        opened.append(con)
        return con

    yield apply
    for con in opened:
        con.close()


def run(con: duckdb.DuckDBPyConnection, table: str, docs_dir: Path) -> SuiteResult:
    return check_table(con, SUITES[table], run_name="pytest", docs_dir=docs_dir)


def failed(result: SuiteResult) -> set[tuple[str, str, str]]:
    """(severity, frame, expectation(target)) of every failure."""
    return {(f.severity, f.frame, f.target) for f in result.failures}


def assert_in_docs(result: SuiteResult, docs_dir: Path, *needles: str) -> None:
    assert result.page is not None and result.page.is_file()
    assert result.page.is_relative_to(docs_dir)
    html = result.page.read_text(encoding="utf-8")
    for needle in needles:
        assert needle in html, f"{needle!r} not on {result.page}"


def test_clean_warehouse_passes_every_suite(clean_db, broken, docs_dir):
    con = broken()  # an untouched copy: the checks add temporary helpers
    results = [run(con, name, docs_dir) for name in SUITES]
    failures = {r.suite: [f.summary() for f in r.failures] for r in results if not r.success}
    assert failures == {}
    assert all(r.evaluated > 10 for r in results)
    assert docs.index_page(docs_dir).is_file()
    assert all(p.is_file() for r in results for p in r.pages.values())


def test_duplicate_id_fails_the_staging_key(broken, docs_dir):
    con = broken(
        "insert into staging.stg_mollie__payments "
        "select * from staging.stg_mollie__payments order by payment_id limit 1"
    )
    result = run(con, "stg_mollie__payments", docs_dir)
    assert result.severity == "error"
    assert ("error", "rows", "expect_column_values_to_be_unique(payment_id)") in failed(result)
    unique = next(f for f in result.failures if f.type == "expect_column_values_to_be_unique")
    assert unique.unexpected_count == 2
    duplicate = unique.unexpected_values[0]
    assert unique.sample and all(row["payment_id"] == duplicate for row in unique.sample)
    # The raw → staging integrity sees the extra row too.
    assert ("error", "layers", "expect_column_pair_values_to_be_equal(upstream, here)") in (
        failed(result)
    )
    assert_in_docs(result, docs_dir, "payment_id")


def test_unknown_currency_fails_the_currency_domain(broken, docs_dir):
    con = broken(
        "update mollie.payments set amount_currency = 'XXX' "
        "where id = (select min(id) from mollie.payments)",
        rebuild=True,
    )
    result = run(con, "stg_mollie__payments", docs_dir)
    assert result.severity == "error"
    currency = [f for f in result.failures if f.target.endswith("(currency)")]
    assert [f.type for f in currency] == ["expect_column_values_to_be_in_set"]
    assert currency[0].unexpected_values == ["XXX"] and currency[0].sample[0]["currency"] == "XXX"
    assert_in_docs(result, docs_dir, "XXX")


def test_card_number_fails_privacy_with_masked_values_only(broken, docs_dir):
    con = broken(
        f"update mollie.payments set description = 'Order {PAN} thanks' "
        "where id = (select min(id) from mollie.payments)",
        rebuild=True,
    )
    result = run(con, "stg_mollie__payments", docs_dir)
    assert result.severity == "error"
    card = next(f for f in result.failures if f.target.endswith("(card_number_values)"))
    hits = {(row["table_name"], row["column_name"]): row for row in card.sample}
    # Both the raw table and staging hold it; the sample shows where, never the number.
    assert set(hits) == {
        ("mollie.payments", "description"),
        ("staging.stg_mollie__payments", "description"),
    }
    assert {row["card_number_example"] for row in hits.values()} == {"411111******1111"}
    everything = json.dumps([f.as_dict() | {"sample": f.sample} for f in result.failures])
    assert PAN not in everything and PAN.replace(" ", "") not in everything
    assert_in_docs(result, docs_dir, "card_number_values")
    assert PAN.replace(" ", "") not in result.page.read_text(encoding="utf-8")


def test_amount_lost_between_raw_and_staging(broken, docs_dir):
    con = broken(
        "delete from staging.stg_mollie__balance_transactions where transaction_id = "
        "(select min(transaction_id) from staging.stg_mollie__balance_transactions "
        "where initial_amount <> 0)"
    )
    result = run(con, "stg_mollie__balance_transactions", docs_dir)
    assert result.severity == "error"
    integrity = next(f for f in result.failures if f.frame == "layers")
    lost = {row["measure"] for row in integrity.sample}
    assert {"rows", "sum(initial_amount)", "sum(result_amount)"} <= lost
    rows = next(row for row in integrity.sample if row["measure"] == "rows")
    assert int(rows["upstream"]) == int(rows["here"]) + 1
    assert_in_docs(result, docs_dir, "upstream")


def test_amount_altered_in_a_mart(broken, docs_dir):
    con = broken(
        "update marts.balance_ledger set net = net + 0.01 "
        "where transaction_id = (select min(transaction_id) from marts.balance_ledger)"
    )
    result = run(con, "balance_ledger", docs_dir)
    assert {f.frame for f in result.failures} == {"layers"}
    [row] = result.failures[0].sample
    assert row["measure"] == "sum(net)"
    # Exact DECIMAL text on both sides: the cent shows.
    from decimal import Decimal

    assert Decimal(row["here"]) - Decimal(row["upstream"]) == Decimal("0.01")


def test_broken_foreign_key(broken, docs_dir):
    con = broken(
        "update mollie.settlement_payments set settlement_id = 'stl_doesnotexist' "
        "where id = (select min(id) from mollie.settlement_payments)",
        rebuild=True,
    )
    result = run(con, "stg_mollie__settlement_payments", docs_dir)
    assert ("error", "rows", "expect_column_values_to_be_in_set(settlement_id_exists)") in (
        failed(result)
    )
    fk = next(f for f in result.failures if f.target.endswith("(settlement_id_exists)"))
    assert fk.unexpected_count == 1
    assert fk.sample[0]["settlement_id"] == "stl_doesnotexist"
    assert_in_docs(result, docs_dir, "settlement_id_exists")


def test_unknown_status_is_a_warning_not_a_failure(broken, docs_dir):
    con = broken(
        "update mollie.payments set status = 'frozen' "
        "where id = (select min(id) from mollie.payments)",
        rebuild=True,
    )
    result = run(con, "stg_mollie__payments", docs_dir)
    assert not result.success
    assert result.severity == "warning" and result.counts == {"error": 0, "warning": 1}
    [finding] = result.failures
    assert finding.target == "expect_column_values_to_be_in_set(status)"
    assert finding.unexpected_values == ["frozen"]


def test_dagster_gate_blocks_downstream_assets(clean_db, tmp_path, docs_dir, monkeypatch):
    monkeypatch.setenv("MOLLIE_LEDGER_EXPORT_DIR", str(tmp_path / "exports"))
    monkeypatch.delenv("FRAPPE_URL", raising=False)
    db = tmp_path / "w.duckdb"
    shutil.copy(clean_db, db)
    con = duckdb.connect(str(db))
    # A ledger row in a currency Mollie does not have: everything below the ledger is suspect.
    con.execute(
        "update mollie.balance_transactions set result_amount_currency = 'XXX' "
        "where id = (select min(id) from mollie.balance_transactions)"
    )
    con.close()

    result = dg.materialize(
        [*transform_assets, *quality_checks, *export_assets],
        resources={"warehouse": Warehouse(database=str(db))},
        raise_on_error=False,
    )

    assert not result.success
    evaluations = {
        (e.asset_key.to_user_string(), e.check_name): e
        for e in result.get_asset_check_evaluations()
    }
    gate = evaluations[("staging/stg_mollie__balance_transactions", "quality_gate")]
    assert not gate.passed and gate.severity == dg.AssetCheckSeverity.ERROR
    failed_json = gate.metadata["failed_expectations"].data
    assert any(
        f["expectation"] == "expect_column_values_to_be_in_set"
        and f["kwargs"]["column"] == "currency"
        and f["unexpected_values"] == ["XXX"]
        for f in failed_json
    )
    assert "XXX" in gate.metadata["sample_rows"].md_str
    assert Path(gate.metadata["data_docs"].path).is_file()

    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "staging/stg_mollie__balance_transactions" in materialized  # written, then gated
    assert "staging/stg_mollie__payments" in materialized  # not downstream: unaffected
    for downstream in (
        "intermediate/int_ledger__categorised",
        "marts/balance_ledger",
        "marts/settlement_reconciliation",
        "marts/journal_entries",
        "marts/journal_entry_lines",
        "export/csv",
        "export/frappe",
    ):
        assert downstream not in materialized
    assert not (tmp_path / "exports").exists()  # nothing written behind a failed gate
    # Other gates ran and held: the failure is the ledger's alone.
    assert evaluations[("staging/stg_mollie__payments", "quality_gate")].passed
    # And a standalone export, outside Dagster, refuses on the recorded result.
    with duckdb.connect(str(db)) as con, pytest.raises(GateRefusal, match="stg_mollie__balance"):
        require_gates_passed(con)


def test_reconciliation_findings_warn_without_blocking(clean_db, tmp_path, docs_dir):
    db = tmp_path / "w.duckdb"
    shutil.copy(clean_db, db)
    con = duckdb.connect(str(db))
    # Mollie says a settlement paid out one euro more than its ledger rows: a finding, not bad
    # data (raw and staging agree), so no gate fails and the run succeeds.
    con.execute(
        "update mollie.settlements set amount = amount + 1 where id = "
        "(select min(id) from mollie.settlements where status = 'paidout')"
    )
    con.close()
    rebuild_warehouse(db)
    key = dg.AssetKey(["marts", "reconciliation_exceptions"])

    result = dg.materialize(
        [
            *(a for a in transform_assets if a.key == key),
            *(c for c in quality_checks if key in {k.asset_key for k in c.check_keys}),
        ],
        resources={"warehouse": Warehouse(database=str(db))},
        raise_on_error=False,
    )

    assert result.success
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert evaluations["quality_gate"].passed
    findings = evaluations["no_reconciliation_findings"]
    assert not findings.passed and findings.severity == dg.AssetCheckSeverity.WARN
    assert findings.metadata["findings"].value >= 1
    assert "settlement_ledger_net" in findings.metadata["by_check"].data
    # Recorded for standalone exports: a warning does not refuse them.
    with duckdb.connect(str(db)) as con:
        assert {str(r.check_name) for r in require_gates_passed(con)} == {
            "quality_gate",
            "no_reconciliation_findings",
        }
