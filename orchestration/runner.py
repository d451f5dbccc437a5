"""Run every asset once, in process, and summarise the warehouse: `mollie-ledger run` / `demo`.

The run is a real Dagster run of the scheduled job `daily_ledger` (so blocking checks gate
exports exactly as in a scheduled run); it is recorded in DAGSTER_HOME when that is set, so the UI
shows it, and in a throwaway instance otherwise.
"""

from __future__ import annotations

import os
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import duckdb

from export import preflight
from extract.pipeline import warehouse_path
from extract.warehouse_lock import WarehouseError, exclusive_warehouse
from orchestration.report_asset import REPORT_KEY
from orchestration.stale_runs import release_dead_runs, run_tags


@dataclass
class RunSummary:
    success: bool
    failures: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    tables: dict[str, int] = field(default_factory=dict)  # marts.* row counts
    findings: dict[tuple[str, str], int] = field(default_factory=dict)  # (check, severity) → n
    settlements: dict[str, int] = field(default_factory=dict)  # reconciliation status → n
    bank_matched: int = 0
    journal_entries: int = 0
    report: str | None = None  # the financial report's file, when this run wrote it


def _instance() -> dg.DagsterInstance:
    return (
        dg.DagsterInstance.get()
        if os.environ.get("DAGSTER_HOME")
        else (dg.DagsterInstance.ephemeral())
    )


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


def summarise_warehouse(db: Path) -> RunSummary:
    """Counts a user wants after a run, read from the warehouse (read-only)."""
    summary = RunSummary(success=True)
    if not db.exists():
        return summary
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' "
            "order by table_name"
        ).fetchall()
        for (name,) in tables:
            summary.tables[name] = con.execute(f"select count(*) from marts.{name}").fetchone()[0]
        if "reconciliation_exceptions" in summary.tables:
            for check, severity, n in con.execute(
                "select check_name, severity, count(*) from marts.reconciliation_exceptions "
                "group by all order by 1"
            ).fetchall():
                summary.findings[(check, severity)] = n
        if "settlement_reconciliation" in summary.tables:
            summary.settlements = dict(
                con.execute(
                    "select status, count(*) from marts.settlement_reconciliation group by all"
                ).fetchall()
            )
            summary.bank_matched = con.execute(
                "select count(*) from marts.settlement_reconciliation "
                "where bank_matched_by is not null"
            ).fetchone()[0]
        summary.journal_entries = summary.tables.get("journal_entries", 0)
    finally:
        con.close()
    return summary


def run_pipeline(db_path: str | os.PathLike[str] | None = None) -> RunSummary:
    """Materialise every asset once (extract, bank, transforms, gates, exports) and summarise.

    The run holds the warehouse from start to end (extract.warehouse_lock): a second run started
    meanwhile is refused at once, with what to do, instead of interleaving its steps with ours.
    Every unusable setting is refused, all at once, before anything is read from Mollie.
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
    from orchestration.definitions import defs
    from orchestration.metrics import record_run_metrics  # here: metrics imports this module

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


def format_summary(summary: RunSummary) -> str:
    """The text the CLI prints after a run."""
    lines = []
    if summary.tables:
        lines.append("Marts (rows):")
        lines += [f"  {name:<32}{n:>9}" for name, n in summary.tables.items()]
    if summary.settlements:
        parts = ", ".join(f"{n} {status}" for status, n in sorted(summary.settlements.items()))
        lines.append(f"Settlements: {parts}; {summary.bank_matched} matched to a bank deposit")
    if summary.findings:
        lines.append("Reconciliation findings:")
        lines += [
            f"  {check} ({severity}): {n}" for (check, severity), n in summary.findings.items()
        ]
    elif summary.tables:
        lines.append("Reconciliation findings: none")
    if summary.journal_entries:
        lines.append(f"Journal entries ready to post: {summary.journal_entries}")
    if summary.report:
        lines.append(f"Financial report: {summary.report}")
    if summary.failures:
        lines.append("FAILED:")
        lines += [f"  {f}" for f in summary.failures]
        if summary.skipped:
            lines.append(f"  {len(summary.skipped)} downstream step(s) skipped")
    return "\n".join(lines)
