"""Run every asset once, in process: `mollie-ledger run` / `demo` (summarised by reporting).

The run is a real Dagster run of the scheduled job `daily_ledger` (so blocking checks gate
exports exactly as in a scheduled run); it is recorded in DAGSTER_HOME when that is set, so the UI
shows it, and in a throwaway instance otherwise.
"""

from __future__ import annotations

import os
import time
from contextlib import ExitStack

import dagster as dg

from export import preflight
from extract.paths import warehouse_path
from extract.warehouse_lock import WarehouseError, exclusive_warehouse
from orchestration.definitions import defs
from orchestration.report_asset import REPORT_KEY
from orchestration.run_events import failure_messages, record_run_metrics
from orchestration.stale_runs import release_dead_runs, run_tags
from reporting.run_summary import RunSummary, summarise_warehouse


def _instance() -> dg.DagsterInstance:
    return (
        dg.DagsterInstance.get()
        if os.environ.get("DAGSTER_HOME")
        else (dg.DagsterInstance.ephemeral())
    )


def run_pipeline(db_path: str | os.PathLike[str] | None = None) -> RunSummary:
    """Materialise every asset once (extract, bank, transforms, gates, exports) and summarise.

    The run holds the warehouse from start to end (extract.warehouse_lock): a second run started
    meanwhile is refused at once, with what to do, instead of interleaving its steps with ours.
    Every unusable setting (no Mollie token, an incomplete accounts file, …) is refused, all at
    once, before anything is read (export.preflight).
    """
    if db_path is not None:
        os.environ["MOLLIE_LEDGER_DB"] = str(db_path)
    try:
        preflight.check(db_path=db_path)
    except preflight.SettingsError as exc:
        return RunSummary(success=False, failures=exc.problems)
    with ExitStack() as held:
        try:
            held.enter_context(exclusive_warehouse(warehouse_path(db_path)))
        except WarehouseError as exc:
            return RunSummary(success=False, failures=[str(exc)])
        return _run_job(db_path)


def _run_job(db_path: str | os.PathLike[str] | None) -> RunSummary:
    job = defs.resolve_job_def("daily_ledger")
    with _instance() as instance:
        release_dead_runs(instance)  # a killed run's pool slot would hold this one for ever
        # Dagster's own step-by-step log is for the UI; the CLI prints a summary instead.
        quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
        started = time.monotonic()
        result = job.execute_in_process(
            instance=instance, raise_on_error=False, run_config=quiet, tags=run_tags()
        )
    record_run_metrics(result, time.monotonic() - started, result.success, db_path)
    summary = summarise_warehouse(warehouse_path(db_path))
    summary.success = result.success
    summary.failures, summary.skipped = failure_messages(result)
    summary.report = report_written(result)
    return summary


def report_written(result: dg.ExecuteInProcessResult) -> str | None:
    """The path the financial report asset recorded in this run, if it ran."""
    for event in result.get_asset_materialization_events():
        if event.asset_key == REPORT_KEY:
            return str(event.materialization.metadata["path"].value)
    return None
