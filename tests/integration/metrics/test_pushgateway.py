"""Run metrics against a real Prometheus Pushgateway (Debian's `prometheus-pushgateway`, started
here on 127.0.0.1) and as a textfile-collector file.

One small sandbox run (300 payments, 30 days) is recorded in a throwaway DAGSTER_HOME, so the
metrics sensors can be driven with that run's real event log afterwards.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from prometheus_client.parser import text_string_to_metric_families

from orchestration.metrics_sensors import metrics_on_run_failure, metrics_on_run_success
from orchestration.run_job import run_pipeline
from reporting.metrics import ENV_METRICS_FILE, ENV_PUSHGATEWAY, JOB
from reporting.run_summary import RunSummary
from sandbox.demo import sandbox_environment

PUSHGATEWAY = shutil.which("prometheus-pushgateway") or "/usr/bin/prometheus-pushgateway"
# Environment a run reads that must not leak in from the developer's shell (a real token or
# Frappe site) nor out into other tests.
_ISOLATE = (
    "MOLLIE_ACCESS_TOKEN",
    "SOURCES__MOLLIE__ACCESS_TOKEN",
    "FRAPPE_URL",
    "FRAPPE_API_KEY",
    "FRAPPE_API_SECRET",
    ENV_PUSHGATEWAY,
    ENV_METRICS_FILE,
)

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


# -- helpers ----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


def parse(exposition: str, job: str | None = JOB) -> Samples:
    """(sample name, labels without job/instance) → value, for one job (None: no job label)."""
    samples: Samples = {}
    for family in text_string_to_metric_families(exposition):
        for s in family.samples:
            if s.labels.get("job") != job:
                continue
            labels = frozenset((k, v) for k, v in s.labels.items() if k not in ("job", "instance"))
            samples[(s.name, labels)] = s.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def named(samples: Samples, name: str) -> dict[frozenset[tuple[str, str]], float]:
    return {labels: v for (n, labels), v in samples.items() if n == name}


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gateway() -> Iterator[str]:
    if not Path(PUSHGATEWAY).exists():
        pytest.skip(
            "prometheus-pushgateway is not installed (apt-get install prometheus-pushgateway)"
        )
    port = _free_port()
    # An empty --persistence.file keeps the metrics in memory only: Debian's build defaults it
    # to /var/lib/prometheus/pushgateway.data, which would leak groups between runs (and tests).
    process = subprocess.Popen(
        [PUSHGATEWAY, f"--web.listen-address=127.0.0.1:{port}", "--persistence.file="],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                _get(f"{url}/-/ready")
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"the pushgateway did not start: {process.stderr.read().decode()}"
                    ) from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Run:
    summary: RunSummary
    db: Path
    started: float
    finished: float
    dagster_home: Path


@pytest.fixture(scope="module")
def pipeline_run(gateway: str, tmp_path_factory) -> Iterator[Run]:
    """`run_pipeline` on a small sandbox with PROMETHEUS_PUSHGATEWAY_URL set; the environment is
    restored afterwards."""
    folder = tmp_path_factory.mktemp("metrics-run")
    with pytest.MonkeyPatch.context() as env:
        for name in _ISOLATE:
            env.delenv(name, raising=False)
        env.setenv("MOLLIE_LEDGER_SANDBOX_PAYMENTS", "300")
        env.setenv("MOLLIE_LEDGER_SANDBOX_DAYS", "30")
        env.setenv("MOLLIE_LEDGER_DB", str(folder / "warehouse.duckdb"))
        env.setenv("MOLLIE_LEDGER_BANK_DIR", str(folder / "bank"))
        env.setenv("MOLLIE_LEDGER_EXPORT_DIR", str(folder / "exports"))
        env.setenv("MOLLIE_LEDGER_REPORT_DIR", str(folder / "report"))
        env.setenv("MOLLIE_LEDGER_WEBHOOK_QUEUE", str(folder / "webhooks.sqlite"))
        env.setenv("DAGSTER_HOME", str(folder / "dagster_home"))
        (folder / "dagster_home").mkdir()
        (folder / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        env.setenv(ENV_PUSHGATEWAY, gateway)
        with sandbox_environment(folder / "bank"):
            started = time.time()
            summary = run_pipeline()
            finished = time.time()
        yield Run(summary, folder / "warehouse.duckdb", started, finished, folder / "dagster_home")


@pytest.fixture
def run_env(pipeline_run: Run, monkeypatch: pytest.MonkeyPatch) -> Run:
    """The run's environment again, for driving the sensors after it (without a sink set)."""
    for name in _ISOLATE:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MOLLIE_LEDGER_DB", str(pipeline_run.db))
    monkeypatch.setenv("DAGSTER_HOME", str(pipeline_run.dagster_home))
    return pipeline_run


def _sensor_context(sensor: dg.RunStatusSensorDefinition) -> tuple[object, dg.DagsterInstance]:
    instance = dg.DagsterInstance.get()
    (run,) = instance.get_runs(limit=1)
    (end,) = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_SUCCESS)
    context = dg.build_run_status_sensor_context(
        sensor_name=sensor.name,
        dagster_event=end.dagster_event,
        dagster_instance=instance,
        dagster_run=run,
    )
    return context, instance


def _warehouse_count(db: Path, table: str) -> int:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(f"select count(*) from {table}").fetchone()[0]
    finally:
        con.close()


# -- tests ------------------------------------------------------------------------------------


def test_a_run_pushes_its_metrics_to_the_pushgateway(pipeline_run: Run, gateway: str) -> None:
    assert pipeline_run.summary.success, pipeline_run.summary.failures
    samples = parse(_get(f"{gateway}/metrics"))

    assert value(samples, "mollie_ledger_run_success") == 1
    duration = value(samples, "mollie_ledger_run_duration_seconds")
    assert 0 < duration <= pipeline_run.finished - pipeline_run.started
    last_success = value(samples, "mollie_ledger_last_success_timestamp_seconds")
    assert pipeline_run.started <= last_success <= pipeline_run.finished

    # Rows per table as the warehouse holds them.
    payments = _warehouse_count(pipeline_run.db, "mollie.payments")
    assert payments > 0
    rows = {
        dict(labels)["table"]: v
        for labels, v in named(samples, "mollie_ledger_rows_loaded").items()
    }
    assert rows["mollie.payments"] == payments
    assert rows["marts.journal_entries"] == pipeline_run.summary.tables["journal_entries"]

    # The sandbox answers cleanly: requests, and no retries, 429s or 5xx.
    requests = value(samples, "mollie_ledger_requests_total")
    assert requests > 0
    assert value(samples, "mollie_ledger_retries_total") == 0
    assert value(samples, "mollie_ledger_rate_limited_total") == 0
    assert value(samples, "mollie_ledger_server_errors_total") == 0

    # Latency: one histogram per endpoint family (no ids in labels), every attempt in it once.
    counts = named(samples, "mollie_ledger_request_duration_seconds_count")
    endpoints = {dict(labels)["endpoint"] for labels in counts}
    assert {"/payments", "/balances/{id}/transactions", "/settlements/{id}/payments"} <= endpoints
    assert not [e for e in endpoints if re.search(r"/[a-z]+_[A-Za-z0-9]+", e)], endpoints
    assert sum(counts.values()) == requests
    for endpoint in endpoints:
        buckets = sorted(
            (float(dict(labels)["le"]), v)
            for labels, v in named(samples, "mollie_ledger_request_duration_seconds_bucket").items()
            if dict(labels)["endpoint"] == endpoint
        )
        assert [v for _, v in buckets] == sorted(v for _, v in buckets)  # cumulative
        assert buckets[-1] == (
            float("inf"),
            value(samples, "mollie_ledger_request_duration_seconds_count", endpoint=endpoint),
        )
        assert value(samples, "mollie_ledger_request_duration_seconds_sum", endpoint=endpoint) > 0

    # Clean data: no reconciliation findings, in the warehouse or the metrics.
    assert pipeline_run.summary.findings == {}
    assert sum(named(samples, "mollie_ledger_findings").values()) == 0

    # No Frappe configured: nothing posted, every outbox state reported as 0.
    assert value(samples, "mollie_ledger_journal_entries_posted_total") == 0
    states = {
        dict(labels)["state"]: v
        for labels, v in named(samples, "mollie_ledger_journal_entries").items()
    }
    assert states == {"pending": 0, "posted": 0, "review": 0, "failed": 0}

    # Gate results: one 1/0 per gate recorded in quality.gate_results (none before it exists).
    gates = named(samples, "mollie_ledger_gate_passed")
    assert all(v in (0, 1) for v in gates.values())

    # One group, keyed by nothing volatile: job="mollie_ledger" (and the gateway's instance="").
    text = _get(f"{gateway}/metrics")
    groups = {
        frozenset(s.labels.items())
        for family in text_string_to_metric_families(text)
        if family.name == "push_time_seconds"
        for s in family.samples
    }
    assert groups == {frozenset({("job", JOB), ("instance", "")})}


def test_failed_run_keeps_the_last_success_then_success_moves_it(
    run_env: Run, gateway: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sensors replay the run's event log; a failure publishes run_success 0 but carries the
    last success forward (every push replaces the whole group)."""
    monkeypatch.setenv(ENV_PUSHGATEWAY, gateway)
    before = parse(_get(f"{gateway}/metrics"))
    last_success = value(before, "mollie_ledger_last_success_timestamp_seconds")

    context, instance = _sensor_context(metrics_on_run_failure)
    metrics_on_run_failure(context)
    after = parse(_get(f"{gateway}/metrics"))
    assert value(after, "mollie_ledger_run_success") == 0
    assert value(after, "mollie_ledger_last_success_timestamp_seconds") == last_success
    # The same run's numbers, read back from the instance's event log instead of the result.
    for key in ("mollie_ledger_requests_total", "mollie_ledger_rows_loaded"):
        assert named(after, key) == named(before, key)

    context, instance = _sensor_context(metrics_on_run_success)
    metrics_on_run_success(context)
    again = parse(_get(f"{gateway}/metrics"))
    record = instance.get_run_record_by_id(context.dagster_run.run_id)
    assert value(again, "mollie_ledger_run_success") == 1
    assert value(again, "mollie_ledger_last_success_timestamp_seconds") == pytest.approx(
        record.end_time
    )
    assert value(again, "mollie_ledger_run_duration_seconds") == pytest.approx(
        record.end_time - record.start_time
    )


def test_without_a_pushgateway_metrics_go_to_a_textfile(
    run_env: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Default: metrics/mollie_ledger.prom beside the warehouse (data/metrics/ for the default one).
    default = run_env.db.parent / "metrics" / "mollie_ledger.prom"
    default.unlink(missing_ok=True)
    context, _ = _sensor_context(metrics_on_run_success)
    metrics_on_run_success(context)
    samples = parse(default.read_text(), job=None)
    payments = _warehouse_count(run_env.db, "mollie.payments")
    assert value(samples, "mollie_ledger_rows_loaded", table="mollie.payments") == payments
    assert value(samples, "mollie_ledger_run_success") == 1

    # MOLLIE_LEDGER_METRICS_FILE moves it; a failed run carries the last success forward.
    target = tmp_path / "textfile" / "ledger.prom"
    monkeypatch.setenv(ENV_METRICS_FILE, str(target))
    metrics_on_run_success(context)
    last_success = value(
        parse(target.read_text(), job=None), "mollie_ledger_last_success_timestamp_seconds"
    )
    context, _ = _sensor_context(metrics_on_run_failure)
    metrics_on_run_failure(context)
    failed = parse(target.read_text(), job=None)
    assert value(failed, "mollie_ledger_run_success") == 0
    assert value(failed, "mollie_ledger_last_success_timestamp_seconds") == last_success
    # Written atomically: only the file itself is left in the folder, readable by a collector.
    assert [p.name for p in target.parent.iterdir()] == ["ledger.prom"]
    assert target.stat().st_mode & 0o044 == 0o044

    promtool = shutil.which("promtool")
    if promtool:  # the node exporter's parser is Prometheus' own; promtool lints the same format
        check = subprocess.run(
            [promtool, "check", "metrics"], input=target.read_bytes(), capture_output=True
        )
        assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()


def test_each_organization_keeps_its_own_group_on_the_pushgateway(gateway) -> None:
    """Several organizations push to one Pushgateway: one's run must not replace the other's
    numbers, and a failed run carries forward its own organization's last success."""
    from reporting.metrics import Pushgateway, RunMetrics, publish

    north, south = Pushgateway(gateway, "north"), Pushgateway(gateway, "south")
    for sink, success, at in ((north, True, 1000.0), (south, True, 2000.0), (north, False, 3000.0)):
        last = at if success else None  # as record_run_metrics sets it
        publish(RunMetrics(success, 1.0, finished_at=at, last_success=last), sink)

    last = {
        s.labels["organization"]: s.value
        for family in text_string_to_metric_families(_get(f"{gateway}/metrics"))
        for s in family.samples
        if s.name == "mollie_ledger_last_success_timestamp_seconds" and "organization" in s.labels
    }
    assert last == {"north": 1000.0, "south": 2000.0}
