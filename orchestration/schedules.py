"""The daily run: job `daily_ledger` (every asset, with its checks) and its schedule.

The schedule is RUNNING by default: running unattended every day is the point of a deployment,
and the Dagster daemon (part of `dagster dev` / `mollie-ledger ui`, or `dagster-daemon run` in
production) is what fires it. Turning it off in the UI is remembered by the instance
(DAGSTER_HOME), so a default in code does not fight an operator's choice.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dagster as dg

ENV_CRON = "MOLLIE_LEDGER_SCHEDULE_CRON"
ENV_TIMEZONE = "MOLLIE_LEDGER_SCHEDULE_TZ"
DEFAULT_CRON = "0 6 * * *"  # after Mollie has settled the night's payouts, before office hours
DEFAULT_TIMEZONE = "Europe/Amsterdam"  # Mollie's (and the books') day

daily_ledger = dg.define_asset_job(
    "daily_ledger",
    selection=dg.AssetSelection.all(),
    description="Every asset once: extract, bank statements, transforms with their quality "
    "gates, exports and the financial report. Failed gates stop what is downstream of them.",
    tags={"mollie_ledger/trigger": "daily"},
)


def daily_schedule(env: Mapping[str, str] = os.environ) -> dg.ScheduleDefinition:
    """The schedule of `daily_ledger`, from MOLLIE_LEDGER_SCHEDULE_CRON / _TZ (or the defaults)."""
    cron = (env.get(ENV_CRON) or DEFAULT_CRON).strip()
    timezone = (env.get(ENV_TIMEZONE) or DEFAULT_TIMEZONE).strip()
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{ENV_TIMEZONE}={timezone!r} is not an IANA time zone") from None
    try:
        return dg.ScheduleDefinition(
            name="daily_ledger_schedule",
            job=daily_ledger,
            cron_schedule=cron,
            execution_timezone=timezone,
            default_status=dg.DefaultScheduleStatus.RUNNING,
            description=f"Runs daily_ledger at `{cron}` ({timezone}); set {ENV_CRON} and "
            f"{ENV_TIMEZONE} to change it.",
        )
    except dg.DagsterInvalidDefinitionError as exc:
        raise ValueError(f"{ENV_CRON}={cron!r} is not a valid cron expression") from exc
