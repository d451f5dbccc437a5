"""The Dagster entry point: `dagster dev -m orchestration.definitions` (or `mollie-ledger ui`).

It stays short: each layer contributes its own module of assets, checks, jobs, schedules and
sensors; this file only merges them with the shared resources and applies the central policies
(owners, freshness). Nothing heavy is imported here (Great Expectations, for one, is imported
lazily by its checks).
"""

from __future__ import annotations

import dagster as dg

from orchestration.alert_sensors import alert_sensors
from orchestration.bank_assets import bank_statement_lines
from orchestration.export_assets import export_assets
from orchestration.extract_assets import extract_assets
from orchestration.extract_assets import resources as extract_resources
from orchestration.metrics_sensors import metrics_sensors
from orchestration.organizations import MANY
from orchestration.policies import with_policies
from orchestration.publish_asset import published_warehouse
from orchestration.quality_checks import quality_checks
from orchestration.report_asset import financial_report
from orchestration.schedules import daily_ledger, daily_schedule
from orchestration.transform_assets import transform_assets
from orchestration.warehouse import Warehouse
from orchestration.webhook_sensor import webhook_sensor

defs = dg.Definitions(
    assets=with_policies(
        [
            extract_assets,
            bank_statement_lines,
            *transform_assets,
            *export_assets,
            financial_report,
            published_warehouse,
        ]
    ),
    asset_checks=quality_checks,
    jobs=[daily_ledger],
    schedules=[daily_schedule()],
    # Webhooks name no organization here: with several, the daily schedule refreshes them all.
    sensors=[*([] if MANY else [webhook_sensor]), *alert_sensors, *metrics_sensors],
    resources={**extract_resources, "warehouse": Warehouse()},
    # One process per run: Great Expectations (~15 s to import) loads once, and DuckDB has a
    # single writer anyway, so parallel steps would only queue on the "duckdb" pool.
    executor=dg.in_process_executor,
)
