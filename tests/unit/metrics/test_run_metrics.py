"""reporting.metrics without the pipeline: a tiny Dagster run whose materializations carry
the extract's API metadata, a small warehouse with findings, gate results and an outbox, and the
two sinks (textfile; an unreachable Pushgateway must not fail the run)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from prometheus_client.parser import text_string_to_metric_families

from export.outbox import ensure_schema
from extract.resilience import Counters
from orchestration.extract_assets import api_metadata
from orchestration.run_events import add_run_events, record_run_metrics
from quality.gate_results import ensure_gate_table
from reporting.metrics import ENV_METRICS_FILE, ENV_PUSHGATEWAY, RunMetrics

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _counters() -> Counters:
    counters = Counters()
    for _ in range(3):
        counters.record_request("/payments")
        counters.observe_latency("/payments", 0.02)
    counters.record_request("/balances/bal_1/transactions")
    counters.observe_latency("/balances/bal_1/transactions", 3.0)
    counters.increment("rate_limited")
    counters.increment("retries")
    return counters


@dg.multi_asset(
    specs=[dg.AssetSpec(["mollie", "payments"]), dg.AssetSpec(["mollie", "refunds"])],
)
def fake_extract() -> Iterator[dg.MaterializeResult]:
    # As the real extract step: every table carries the same step-wide API numbers.
    api = api_metadata(_counters().snapshot())
    yield dg.MaterializeResult(
        asset_key=["mollie", "payments"], metadata={"dagster/row_count": 4, **api}
    )
    yield dg.MaterializeResult(
        asset_key=["mollie", "refunds"], metadata={"dagster/row_count": 1, **api}
    )


@pytest.fixture(scope="module")
def result() -> dg.ExecuteInProcessResult:
    return dg.materialize([fake_extract], raise_on_error=True)


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    db = tmp_path / "w.duckdb"
    con = duckdb.connect(str(db))
    try:
        con.execute("create schema marts")
        con.execute(
            "create table marts.reconciliation_exceptions as select * from (values "
            "('settlement_ledger_net', 'error'), ('settlement_ledger_net', 'error'), "
            "('bank_deposit_late', 'warning')) as t(check_name, severity)"
        )
        ensure_gate_table(con)
        con.execute(
            "insert into quality.gate_results values "
            "('r1', '2026-11-01 06:00:00+00', 'marts/journal_entries', 'quality_gate', false, "
            "'ERROR', 2), "
            "('r2', '2026-11-02 06:00:00+00', 'marts/journal_entries', 'quality_gate', true, "
            "'ERROR', 0), "
            "('r2', '2026-11-02 06:00:00+00', 'mollie/payments', 'quality_gate', false, "
            "'WARN', 1)"
        )
        ensure_schema(con)
        con.execute(
            "insert into export.outbox (run_id, posting_key, status) values "
            "('r1', 'k1', 'pending'), ('r1', 'k1', 'posted'), ('r1', 'k2', 'failed')"
        )
    finally:
        con.close()
    return db


@pytest.fixture
def textfile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv(ENV_PUSHGATEWAY, raising=False)
    path = tmp_path / "metrics" / "run.prom"
    monkeypatch.setenv(ENV_METRICS_FILE, str(path))
    return path


def test_events_give_rows_and_the_api_numbers_once_per_step(result) -> None:
    metrics = RunMetrics(success=True, duration_seconds=1.0)
    add_run_events(metrics, result)
    assert metrics.rows == {"mollie.payments": 4, "mollie.refunds": 1}
    # Two tables, one step: counted once, not twice.
    assert metrics.api == {"requests": 4, "retries": 1, "rate_limited": 1, "server_errors": 0}
    assert metrics.latency["/payments"]["count"] == 3
    assert metrics.latency["/balances/{id}/transactions"]["buckets"]["2.5"] == 0
    assert metrics.latency["/balances/{id}/transactions"]["buckets"]["5.0"] == 1


def test_warehouse_state_and_textfile(result, warehouse: Path, textfile: Path) -> None:
    assert record_run_metrics(result, 12.5, True, warehouse, finished_at=1_800_000_000.0) == str(
        textfile
    )
    samples = parse(textfile.read_text())
    assert samples[("mollie_ledger_run_duration_seconds", ())] == 12.5
    assert samples[("mollie_ledger_last_success_timestamp_seconds", ())] == 1_800_000_000.0
    assert samples[("mollie_ledger_rate_limited_total", ())] == 1
    findings = {k[1]: v for k, v in samples.items() if k[0] == "mollie_ledger_findings"}
    assert findings == {
        (("check", "settlement_ledger_net"), ("severity", "error")): 2,
        (("check", "bank_deposit_late"), ("severity", "warning")): 1,
    }
    # The latest result per gate: journal_entries failed first, then passed.
    gates = {
        dict(k[1])["asset"]: v for k, v in samples.items() if k[0] == "mollie_ledger_gate_passed"
    }
    assert gates == {"marts/journal_entries": 1, "mollie/payments": 0}
    assert (
        "mollie_ledger_gate_passed",
        (("asset", "mollie/payments"), ("check", "quality_gate"), ("severity", "warn")),
    ) in samples
    # Current outbox state per entry: k1 posted (after pending), k2 failed.
    states = {k[1]: v for k, v in samples.items() if k[0] == "mollie_ledger_journal_entries"}
    assert states == {
        (("state", "pending"),): 0,
        (("state", "posted"),): 1,
        (("state", "review"),): 0,
        (("state", "failed"),): 1,
    }
    assert samples[("mollie_ledger_journal_entries_posted_total", ())] == 1


def test_a_failed_run_before_any_success_has_no_success_timestamp(
    result, tmp_path: Path, textfile: Path
) -> None:
    record_run_metrics(result, 1.0, False, tmp_path / "no-warehouse.duckdb")
    samples = parse(textfile.read_text())
    assert samples[("mollie_ledger_run_success", ())] == 0
    assert not [k for k in samples if k[0] == "mollie_ledger_last_success_timestamp_seconds"]


def test_an_unreachable_pushgateway_does_not_fail_the_run(
    result, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(ENV_PUSHGATEWAY, "http://127.0.0.1:9")  # discard port: refused
    with caplog.at_level(logging.WARNING, logger="mollie_ledger.metrics"):
        assert record_run_metrics(result, 1.0, False, tmp_path / "w.duckdb") is None
    assert "could not publish to Pushgateway http://127.0.0.1:9" in caplog.text
