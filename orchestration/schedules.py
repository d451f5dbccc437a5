"""The daily run: job `daily_ledger` (every asset, with its checks) and its schedule.

The schedule is RUNNING by default: running unattended every day is the point of a deployment,
and the Dagster daemon (part of `dagster dev` / `mollie-ledger ui`, or `dagster-daemon run` in
production) is what fires it. Turning it off in the UI is remembered by the instance
(DAGSTER_HOME), so a default in code does not fight an operator's choice.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dagster as dg

from extract.organizations import DEFAULT_NAME
from orchestration.organizations import MANY, ORGANIZATION_TAG, ORGANIZATIONS

ENV_CRON = "MOLLIE_LEDGER_SCHEDULE_CRON"
ENV_TIMEZONE = "MOLLIE_LEDGER_SCHEDULE_TZ"
DEFAULT_CRON = "0 6 * * *"  # after Mollie has settled the night's payouts, before office hours
DEFAULT_TIMEZONE = "Europe/Amsterdam"  # Mollie's (and the books') day
SCHEDULE_NAME = "daily_ledger_schedule"

daily_ledger = dg.define_asset_job(
    "daily_ledger",
    selection=dg.AssetSelection.all(),
    description="Every asset once: extract, bank statements, transforms with their quality "
    "gates, exports and the financial report. Failed gates stop what is downstream of them."
    + (" One run per organization (partition)." if MANY else ""),
    # The organization tag lets dagster.yaml allow one run per warehouse at a time; with
    # several organizations each run request carries its own.
    tags={"mollie_ledger/trigger": "daily", **({} if MANY else {ORGANIZATION_TAG: DEFAULT_NAME})},
)


def daily_schedule(env: Mapping[str, str] = os.environ) -> dg.ScheduleDefinition:
    """The schedule of `daily_ledger`, from MOLLIE_LEDGER_SCHEDULE_CRON / _TZ (or the defaults)."""
    cron = (env.get(ENV_CRON) or DEFAULT_CRON).strip()
    timezone = (env.get(ENV_TIMEZONE) or DEFAULT_TIMEZONE).strip()
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{ENV_TIMEZONE}={timezone!r} is not an IANA time zone") from None
    description = (
        f"Runs daily_ledger at `{cron}` ({timezone}); set {ENV_CRON} and {ENV_TIMEZONE} to "
        "change it."
    )
    try:
        if not MANY:
            return dg.ScheduleDefinition(
                name=SCHEDULE_NAME,
                job=daily_ledger,
                cron_schedule=cron,
                execution_timezone=timezone,
                default_status=dg.DefaultScheduleStatus.RUNNING,
                description=description,
            )

        @dg.schedule(
            name=SCHEDULE_NAME,
            job=daily_ledger,
            cron_schedule=cron,
            execution_timezone=timezone,
            default_status=dg.DefaultScheduleStatus.RUNNING,
            description=description + " One run per organization: each fails on its own.",
        )
        def every_organization(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
            return organization_runs(context.scheduled_execution_time)

        return every_organization
    except dg.DagsterInvalidDefinitionError as exc:
        raise ValueError(f"{ENV_CRON}={cron!r} is not a valid cron expression") from exc


def organization_runs(scheduled: datetime | None) -> list[dg.RunRequest]:
    """One run request per organization: separate runs, so one organization's failure (a
    revoked token, a refused entry) leaves the others' runs alone. The run key makes a tick
    that is evaluated twice launch each organization's run once."""
    tick = scheduled.isoformat() if scheduled else "manual"
    return [
        dg.RunRequest(
            run_key=f"{o.name}:{tick}",
            partition_key=o.name,
            tags={ORGANIZATION_TAG: o.name},
        )
        for o in ORGANIZATIONS
    ]
