"""Metrics for runs Dagster launches itself (schedules, sensors, the UI): run-status sensors.

`mollie-ledger run` records its metrics in process (orchestration.run_job). Runs launched by the
daemon have no such caller, so these sensors fire when a run of this code location succeeds or
fails, read the run's materializations back from the instance's event log and publish exactly
what reporting.metrics publishes for an in-process run.

They start RUNNING: metrics that nobody switched on are metrics nobody has when a run fails.
"""

# No `from __future__ import annotations`: Dagster reads the `context` annotation of a sensor at
# definition time and does not resolve string annotations.

import dagster as dg

from extract.organizations import OrganizationsError
from orchestration.organizations import run_organization
from orchestration.run_events import record_run_metrics
from orchestration.warehouse import Warehouse


def _record(context: dg.RunStatusSensorContext, success: bool) -> dg.SkipReason:
    run_id = context.dagster_run.run_id
    events = context.instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
    record = context.instance.get_run_record_by_id(run_id)
    started = record.start_time if record else None
    finished = record.end_time if record else None
    duration = finished - started if started is not None and finished is not None else 0.0
    try:
        scope = Warehouse().for_organization(run_organization(context.dagster_run))
    except OrganizationsError as exc:  # a partition no longer in the list
        return dg.SkipReason(f"metrics of run {run_id} not published: {exc}")
    sent_to = record_run_metrics(
        events,
        duration,
        success,
        scope.path,
        finished_at=finished,
        env=scope.env,
        organization=None if scope.organization.is_default else scope.name,
    )
    # A SkipReason is how a run-status sensor reports what it did in its tick history.
    return dg.SkipReason(
        f"metrics of run {run_id} published to {sent_to}"
        if sent_to
        else f"metrics of run {run_id} could not be published (see the sensor's log)"
    )


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    name="metrics_on_run_success",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Publishes the Prometheus metrics of every successful run (Pushgateway at "
    "$PROMETHEUS_PUSHGATEWAY_URL, else the textfile collector file).",
)
def metrics_on_run_success(context: dg.RunStatusSensorContext):
    return _record(context, success=True)


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.FAILURE,
    name="metrics_on_run_failure",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Publishes the Prometheus metrics of every failed run (run_success 0; the last "
    "success timestamp is carried forward).",
)
def metrics_on_run_failure(context: dg.RunStatusSensorContext):
    return _record(context, success=False)


metrics_sensors = [metrics_on_run_success, metrics_on_run_failure]
