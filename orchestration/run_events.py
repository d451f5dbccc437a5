"""What a finished Dagster run says about itself: its step failures and the numbers its
materializations carry (rows per table, the extract's Mollie API counters and latency).

Read from an in-process result (`mollie-ledger run`) or from the instance's event log (the
run-status sensors), then handed to the plain reporting code (reporting.metrics) as a RunMetrics.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import dagster as dg

from extract.resilience import API_COUNTERS
from orchestration.extract_assets import API_LATENCY, API_METADATA_PREFIX
from reporting.metrics import RunMetrics, publish_run_metrics

ROW_COUNT_KEY = "dagster/row_count"

RunEvents = dg.ExecuteInProcessResult | Iterable[Any]


def step_failure_message(event: dg.DagsterEvent) -> str:
    """A step failure's own error message (its last line, no traceback), unwrapped from
    Dagster's "error occurred while executing the op" wrapper."""
    error = event.step_failure_data.error
    if error is None:
        return "failed"
    cause = error
    while (
        cause is not None
        and cause.cause is not None
        and "DagsterExecutionStepExecution" in (cause.cls_name or "")
    ):
        cause = cause.cause
    return ((cause or error).message.strip().splitlines() or ["failed"])[-1]


def failure_messages(result: dg.ExecuteInProcessResult) -> tuple[list[str], list[str]]:
    """What failed (step and the error's own message, no traceback) and which steps were skipped."""
    failed, skipped = [], []
    for event in result.all_events:
        if event.is_step_failure:
            failed.append(f"{event.step_key}: {step_failure_message(event)}")
        elif event.is_step_skipped:
            skipped.append(event.step_key or "")
    return failed, skipped


def _materializations(result_or_events: RunEvents) -> Iterator[dg.DagsterEvent]:
    """The materialization events of an in-process result, or of DagsterEvents / event-log
    entries (what a sensor reads from the instance)."""
    events = (
        result_or_events.all_events
        if isinstance(result_or_events, dg.ExecuteInProcessResult)
        else result_or_events
    )
    for item in events:
        event = getattr(item, "dagster_event", item)  # an EventLogEntry wraps its DagsterEvent
        if isinstance(event, dg.DagsterEvent) and event.is_step_materialization:
            yield event


def _value(metadata: dict[str, Any], key: str) -> Any:
    entry = metadata.get(key)
    return getattr(entry, "value", entry)


def add_run_events(metrics: RunMetrics, result_or_events: RunEvents) -> None:
    """Rows per table, and the API counters and latency of each extract step, from the run."""
    api_steps: set[str | None] = set()
    api: Counter[str] = Counter()
    for event in _materializations(result_or_events):
        materialization = event.step_materialization_data.materialization
        metadata = dict(materialization.metadata)
        rows = _value(metadata, ROW_COUNT_KEY)
        if rows is not None:
            metrics.rows[".".join(materialization.asset_key.path)] = int(rows)
        # Every table of an extract step carries the same step-wide numbers: take them once.
        has_api = all(API_METADATA_PREFIX + k in metadata for k in API_COUNTERS)
        if has_api and event.step_key not in api_steps:
            api_steps.add(event.step_key)
            api.update({k: int(_value(metadata, API_METADATA_PREFIX + k)) for k in API_COUNTERS})
            _merge_latency(metrics.latency, _value(metadata, API_METADATA_PREFIX + API_LATENCY))
    if api_steps:
        metrics.api = {k: api[k] for k in API_COUNTERS}


def _merge_latency(into: dict[str, dict[str, Any]], latency: dict[str, Any] | None) -> None:
    # Histograms with the same bounds add up bucket by bucket (two steps, one endpoint).
    for endpoint, histogram in (latency or {}).items():
        total = into.setdefault(endpoint, {"buckets": {}, "count": 0, "sum": 0.0})
        for le, n in histogram["buckets"].items():
            total["buckets"][le] = total["buckets"].get(le, 0) + n
        total["count"] += histogram["count"]
        total["sum"] += histogram["sum"]


def record_run_metrics(
    result_or_events: RunEvents,
    duration: float,
    success: bool,
    db_path: str | os.PathLike[str] | None = None,
    *,
    finished_at: float | None = None,
    env: Mapping[str, str] = os.environ,
    organization: str | None = None,
) -> str | None:
    """Build the run's metrics and publish them (reporting.metrics); returns where they went,
    None on failure.

    Args:
        result_or_events: an ExecuteInProcessResult, or the run's events (DagsterEvent or
            EventLogEntry, as a run-status sensor reads them).
        duration: wall time of the run in seconds.
        success: whether the run succeeded.
        db_path: the warehouse; MOLLIE_LEDGER_DB or the default when None.
        finished_at: Unix time the run ended; now when None.
        env: the settings of the run's organization (its metrics file, the Pushgateway).
        organization: a configured organization's name (its own Pushgateway group).
    """
    finished_at = time.time() if finished_at is None else finished_at
    metrics = RunMetrics(
        success=success,
        duration_seconds=duration,
        finished_at=finished_at,
        # A failed run's is filled in from the sink by reporting.metrics.publish().
        last_success=finished_at if success else None,
    )
    add_run_events(metrics, result_or_events)
    return publish_run_metrics(metrics, db_path, env, organization)
