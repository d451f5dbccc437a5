"""Prometheus metrics of one pipeline run: what they are, where their numbers come from, where
they go.

After every run (`mollie-ledger run`, and scheduled runs through `metrics_sensors`) one registry
of `mollie_ledger_*` metrics is built from two sources (plain code: orchestration.run_events reads
the Dagster side and hands the numbers over in a RunMetrics):

- the run's Dagster events: rows per table (`dagster/row_count` of each materialization) and
  the Mollie API counters and latency histogram the extract asset puts in its metadata;
- the warehouse, opened read-only: reconciliation findings, the latest quality-gate results and
  the journal entries' outbox states, i.e. the state the run left behind.

The registry then replaces the previous one in a Pushgateway when `PROMETHEUS_PUSHGATEWAY_URL`
is set (job `mollie_ledger`, no other grouping label: every run overwrites the same group, so
nothing stale piles up), else in a textfile-collector file (`MOLLIE_LEDGER_METRICS_FILE`, by
default `metrics/mollie_ledger.prom` beside the warehouse, i.e. data/metrics/ by default).
The values describe the LAST run; counters such as `mollie_ledger_requests_total` count that run's
requests, so alert on their values, not on `rate()`. Only operational counts are exported, never
money: amounts stay in the warehouse.
"""

from __future__ import annotations

import logging
import os
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
from prometheus_client import CollectorRegistry, generate_latest, push_to_gateway
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from export.atomic import write_atomic
from export.outbox import POSTED, STATUSES, latest_states
from extract.paths import warehouse_path
from extract.resilience import API_COUNTERS
from quality.gate_results import GateResult, read_latest_results
from reporting.run_summary import summarise_warehouse

log = logging.getLogger("mollie_ledger.metrics")

ENV_PUSHGATEWAY = "PROMETHEUS_PUSHGATEWAY_URL"
ENV_METRICS_FILE = "MOLLIE_LEDGER_METRICS_FILE"
JOB = "mollie_ledger"
ORGANIZATION_LABEL = "organization"  # the Pushgateway group of one of several organizations
PREFIX = "mollie_ledger_"
PUSH_TIMEOUT_SECONDS = 10.0
LAST_SUCCESS = PREFIX + "last_success_timestamp_seconds"

# Help text of each API counter of the extract metadata (API_COUNTERS), exported as
# `mollie_ledger_<name>_total`; a counter added there without a line here fails at collect time.
_API_HELP = {
    "requests": "Mollie API request attempts in the last run (retries included).",
    "retries": "Mollie API attempts retried after a wait in the last run.",
    "rate_limited": "Mollie API answers 429 Too Many Requests in the last run.",
    "server_errors": "Mollie API answers 5xx in the last run.",
}


@dataclass
class RunMetrics:
    """The numbers of one run, before they become Prometheus metrics.

    Attributes:
        success: whether the run succeeded.
        duration_seconds: wall time of the run.
        finished_at: Unix time the run ended.
        last_success: Unix time the latest successful run ended (this one's end if it
            succeeded); None when not known yet.
        rows: rows per table ("mollie.payments") of every materialization with a row count.
        api: the extract's request counters (API_COUNTERS); empty when no extract ran.
        latency: endpoint family → {"buckets": {le: cumulative n}, "count", "sum"}.
        findings: (check, severity) → reconciliation findings in the warehouse.
        gates: the latest result of every quality gate.
        entries: outbox state → journal entries currently in it.
    """

    success: bool
    duration_seconds: float
    finished_at: float = field(default_factory=time.time)
    last_success: float | None = None
    rows: dict[str, int] = field(default_factory=dict)
    api: dict[str, int] = field(default_factory=dict)
    latency: dict[str, dict[str, Any]] = field(default_factory=dict)
    findings: dict[tuple[str, str], int] = field(default_factory=dict)
    gates: list[GateResult] = field(default_factory=list)
    entries: dict[str, int] = field(default_factory=dict)


# -- from the warehouse ------------------------------------------------------------------------


def add_warehouse_state(metrics: RunMetrics, db: Path) -> None:
    """Findings, gate results and outbox states, read-only; nothing when there is no warehouse."""
    if not db.exists():
        return
    metrics.findings = dict(summarise_warehouse(db).findings)
    con = duckdb.connect(str(db), read_only=True)
    try:
        metrics.gates = read_latest_results(con)
        states = Counter(row.status for row in latest_states(con).values())
    finally:
        con.close()
    # Every state, zeros included: "no failed entries" is a value an alert can compare.
    metrics.entries = {state: states.get(state, 0) for state in STATUSES}


# -- the registry ------------------------------------------------------------------------------


class RunCollector(Collector):
    """Turns RunMetrics into metric families. Every family is always yielded (some without
    samples), so the set of metric names is fixed by this code: the dashboard test reads it."""

    def __init__(self, metrics: RunMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        m = self.metrics
        yield _gauge("run_success", "1 if the last run succeeded, else 0.", int(m.success))
        yield _gauge("run_duration_seconds", "Wall time of the last run.", m.duration_seconds)
        yield _gauge(
            "last_success_timestamp_seconds",
            "Unix time the latest successful run finished.",
            m.last_success,
        )
        yield _labelled(
            GaugeMetricFamily,
            "rows_loaded",
            "Rows in each table the last run materialized (schema.table).",
            ["table"],
            {(table,): n for table, n in sorted(m.rows.items())},
        )
        for name in API_COUNTERS:
            yield _labelled(
                CounterMetricFamily, f"{name}_total", _API_HELP[name], [], _one(m.api.get(name))
            )
        latency = HistogramMetricFamily(
            PREFIX + "request_duration_seconds",
            "Mollie API request latency in the last run, by endpoint family.",
            labels=["endpoint"],
        )
        for endpoint, histogram in sorted(m.latency.items()):
            # By bound, not by key: metadata JSON may come back with its keys sorted as text.
            buckets = sorted(histogram["buckets"].items(), key=lambda b: float(b[0]))
            latency.add_metric([endpoint], buckets, sum_value=histogram["sum"])
        yield latency
        yield _labelled(
            GaugeMetricFamily,
            "findings",
            "Reconciliation findings in the warehouse, by check and severity.",
            ["check", "severity"],
            m.findings,
        )
        yield _labelled(
            GaugeMetricFamily,
            "gate_passed",
            "1 if the latest run of a quality gate passed, else 0.",
            ["asset", "check", "severity"],
            {
                (g.asset_key, g.check_name, (g.severity or "").lower()): int(g.passed)
                for g in m.gates
            },
        )
        yield _labelled(
            CounterMetricFamily,
            "journal_entries_posted_total",
            "Journal entries Frappe holds (current outbox state posted).",
            [],
            _one(m.entries.get(POSTED)),
        )
        yield _labelled(
            GaugeMetricFamily,
            "journal_entries",
            "Journal entries by current outbox state (pending, posted, review, failed).",
            ["state"],
            {(state,): n for state, n in m.entries.items()},
        )


def _one(value: float | None) -> dict[tuple[str, ...], float]:
    return {} if value is None else {(): value}


def _gauge(name: str, doc: str, value: float | None) -> GaugeMetricFamily:
    return _labelled(GaugeMetricFamily, name, doc, [], _one(value))


def _labelled(
    kind: type[GaugeMetricFamily] | type[CounterMetricFamily],
    name: str,
    doc: str,
    labels: list[str],
    samples: dict[tuple[str, ...], float],
) -> Metric:
    family = kind(PREFIX + name, doc, labels=labels)
    for values, value in samples.items():
        family.add_metric(list(values), value)
    return family


def build_registry(metrics: RunMetrics) -> CollectorRegistry:
    """A fresh registry holding only this run's metrics (no process or platform metrics)."""
    registry = CollectorRegistry()
    registry.register(RunCollector(metrics))
    return registry


# -- where the metrics go ----------------------------------------------------------------------


class Pushgateway:
    """Replaces the `job="mollie_ledger"` group of a Pushgateway (HTTP PUT); with several
    organizations, each has its own group (`organization="<name>"`), so one's run never
    replaces another's numbers."""

    def __init__(self, url: str, organization: str | None = None) -> None:
        self.url = url if "://" in url else f"http://{url}"
        self.grouping = {ORGANIZATION_LABEL: organization} if organization else {}

    def read(self) -> str:
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=PUSH_TIMEOUT_SECONDS) as r:
            return r.read().decode()

    def write(self, registry: CollectorRegistry) -> None:
        push_to_gateway(
            self.url,
            job=JOB,
            registry=registry,
            grouping_key=self.grouping,
            timeout=PUSH_TIMEOUT_SECONDS,
        )

    def __str__(self) -> str:
        return f"Pushgateway {self.url}"


class Textfile:
    """A node-exporter textfile-collector file, replaced atomically (never read half-written)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> str:
        return self.path.read_text() if self.path.exists() else ""

    def write(self, registry: CollectorRegistry) -> None:
        write_atomic(self.path, generate_latest(registry))

    def __str__(self) -> str:
        return str(self.path)


def sink_from_env(
    db: Path, env: Mapping[str, str] = os.environ, organization: str | None = None
) -> Pushgateway | Textfile:
    """The Pushgateway of PROMETHEUS_PUSHGATEWAY_URL, else the textfile."""
    url = (env.get(ENV_PUSHGATEWAY) or "").strip()
    if url:
        return Pushgateway(url.rstrip("/"), organization)
    configured = (env.get(ENV_METRICS_FILE) or "").strip()
    return Textfile(Path(configured) if configured else db.parent / "metrics" / f"{JOB}.prom")


def previous_last_success(
    exposition: str, grouping: Mapping[str, str] | None = None
) -> float | None:
    """`mollie_ledger_last_success_timestamp_seconds` of job mollie_ledger (and of `grouping`,
    an organization's group) in a text exposition (a textfile has no job label; a Pushgateway
    adds it)."""
    wanted = {"job": JOB, **(grouping or {})}
    try:
        for family in text_string_to_metric_families(exposition):
            if family.name == LAST_SUCCESS:
                for sample in family.samples:
                    labels = {"job": JOB, **sample.labels}
                    if all(labels.get(k) == v for k, v in wanted.items()):
                        return sample.value
    except ValueError:
        # A damaged file (edited by hand, say) only costs the carried-forward timestamp; the
        # run's own metrics replace it below.
        log.warning("metrics: the previous exposition is unreadable; last success unknown")
    return None


def publish(metrics: RunMetrics, sink: Pushgateway | Textfile) -> None:
    """Write the run's registry to `sink`.

    Each write replaces everything the previous run wrote, so a failed run carries the last
    success forward from the sink itself: otherwise "no success for 26 h" could not be told
    from "never succeeded" after the first failure.
    """
    if metrics.last_success is None:
        grouping = sink.grouping if isinstance(sink, Pushgateway) else None
        metrics.last_success = previous_last_success(sink.read(), grouping)
    sink.write(build_registry(metrics))


def publish_run_metrics(
    metrics: RunMetrics,
    db_path: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] = os.environ,
    organization: str | None = None,
) -> str | None:
    """Add the warehouse's state to the run's own numbers and publish them; returns where they
    went, None on failure.

    Args:
        metrics: the run's outcome, duration and the numbers its events carry (rows, API
            counters, latency), as orchestration.run_events reads them from a Dagster run.
        db_path: the warehouse; MOLLIE_LEDGER_DB or the default when None.
        env: the settings naming the sink (an organization's own, orchestration.organizations).
        organization: a configured organization's name: its own Pushgateway group.
    """
    db = warehouse_path(db_path)
    try:
        add_warehouse_state(metrics, db)
    except duckdb.Error as exc:
        # Another process may hold the write lock; the run's own numbers are still worth sending.
        log.warning("metrics: warehouse %s not readable (%s); sending run metrics only", db, exc)
    sink = sink_from_env(db, env, organization)
    try:
        publish(metrics, sink)
    except OSError as exc:
        # Metrics are a by-product: an unreachable Pushgateway or a full disk must not turn a
        # good run red. The log says where they did not go.
        log.warning("metrics: could not publish to %s: %s", sink, exc)
        return None
    log.info("metrics: published to %s", sink)
    return str(sink)
