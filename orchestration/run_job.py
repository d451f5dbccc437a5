"""Run every asset once, in process: `mollie-ledger run` / `demo` (summarised by reporting).

The run is a real Dagster run of the scheduled job `daily_ledger` (so blocking checks gate
exports exactly as in a scheduled run); it is recorded in DAGSTER_HOME when that is set, so the UI
shows it, and in a throwaway instance otherwise. With several organizations
(orchestration.organizations) it is one run per organization, one after the other, each of its
own partition: one organization's failure is its own, the others still run and post.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass

import dagster as dg

from export import preflight
from extract.organizations import OrganizationsError
from extract.paths import ENV_DB
from extract.warehouse_lock import WarehouseError, exclusive_warehouse
from orchestration.definitions import defs
from orchestration.organizations import BY_NAME, MANY, ORGANIZATION_TAG, ORGANIZATIONS
from orchestration.report_asset import REPORT_KEY
from orchestration.run_events import failure_messages, record_run_metrics
from orchestration.stale_runs import release_dead_runs, run_tags
from orchestration.warehouse import OrganizationWarehouse, Warehouse
from reporting.run_summary import RunSummary, summarise_warehouse


@dataclass
class OrganizationRun:
    """One organization's run: where its warehouse is and what the run did."""

    warehouse: OrganizationWarehouse
    summary: RunSummary

    @property
    def name(self) -> str:
        return self.warehouse.name


def _instance() -> dg.DagsterInstance:
    return (
        dg.DagsterInstance.get()
        if os.environ.get("DAGSTER_HOME")
        else (dg.DagsterInstance.ephemeral())
    )


def run_pipeline(db_path: str | os.PathLike[str] | None = None) -> RunSummary:
    """Materialise every asset once (extract, bank, transforms, gates, exports) and summarise,
    for the one organization of a deployment that lists none (see `run_organizations`)."""
    if db_path is not None:
        os.environ[ENV_DB] = str(db_path)
    return _run_one(Warehouse().named(None)).summary


def run_organizations(names: Sequence[str] = ()) -> list[OrganizationRun]:
    """One run per organization (`names`, default all of them), in the organizations file's
    order; each is summarised on its own and none stops the others.

    Raises:
        OrganizationsError: a name that is not in the organizations file.
    """
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        raise OrganizationsError(
            f"no organization {', '.join(map(repr, unknown))} in the organizations file "
            f"(known: {', '.join(BY_NAME)})"
        )
    chosen = [o for o in ORGANIZATIONS if not names or o.name in names]
    return [_run_one(Warehouse().for_organization(o)) for o in chosen]


def _run_one(scope: OrganizationWarehouse) -> OrganizationRun:
    """The run holds the organization's warehouse from start to end (extract.warehouse_lock): a
    second run started meanwhile is refused at once, with what to do, instead of interleaving
    its steps with ours. Every unusable setting (no Mollie token, an incomplete accounts file,
    …) is refused, all at once, before anything is read (export.preflight)."""
    try:
        scope.check_settings(list(preflight.EVERY_STAGE))
    except preflight.SettingsError as exc:
        return OrganizationRun(scope, RunSummary(success=False, failures=exc.problems))
    with ExitStack() as held:
        try:
            held.enter_context(exclusive_warehouse(scope.path))
        except WarehouseError as exc:
            return OrganizationRun(scope, RunSummary(success=False, failures=[str(exc)]))
        return OrganizationRun(scope, _run_job(scope))


def _run_job(scope: OrganizationWarehouse) -> RunSummary:
    job = defs.resolve_job_def("daily_ledger")
    partition = scope.name if MANY else None
    with _instance() as instance:
        release_dead_runs(instance)  # a killed run's pool slot would hold this one for ever
        # Dagster's own step-by-step log is for the UI; the CLI prints a summary instead.
        quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
        started = time.monotonic()
        result = job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            run_config=quiet,
            partition_key=partition,
            tags={**run_tags(), ORGANIZATION_TAG: scope.name},
        )
    record_run_metrics(
        result,
        time.monotonic() - started,
        result.success,
        scope.path,
        env=scope.env,
        organization=partition,
    )
    summary = summarise_warehouse(scope.path)
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
