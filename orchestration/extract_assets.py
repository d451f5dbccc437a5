"""The extract layer as Dagster assets: one asset per raw table of the dlt source, `mollie/<table>`.

Each selected resource of `mollie_source()` becomes an asset (the hidden `settlement_objects` /
`invoice_objects` helpers are `selected=False`, so they are not assets). The source and pipeline
given to the specs only describe the assets; the run builds both again from `mollie_settings()`,
so a run reads the token, API URL and warehouse path of its own environment (and stops at once,
saying what to set, when there is no token).

A run tagged `mollie_ledger/sweep=true` (webhook runs are: a webhook says an object changed,
which may have moved no money) re-reads the look-back window of the mutable lists now; other runs
sweep when money moved or the last sweep is old (extract.source).

A failed load is retried by Dagster (EXTRACT_RETRY) on top of the client's own per-request
retries: that covers what outlasts them (Mollie down for minutes, a connection dropped mid-load,
a warehouse lock). Repeating a load is safe (merge on primary keys, incremental state committed
with the data). Errors a retry cannot fix (a bad token, a refused parameter) are not retried.
"""

# No `from __future__ import annotations` here: Dagster inspects the `context` annotation of the
# asset function at definition time and does not resolve string annotations.

from collections.abc import Iterator
from typing import Any

import dagster as dg
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, build_dlt_asset_specs
from dagster_dlt.translator import DltResourceTranslatorData

from export import preflight
from extract.client import MollieClient
from extract.endpoint import mollie_settings
from extract.errors import MollieAuthError, MollieError, MolliePermissionError
from extract.organizations import Organization
from extract.pipeline import (
    DATASET,
    describing_pipeline,
    make_pipeline,
    mollie_error,
    row_counts,
)
from extract.records import TABLES
from extract.resilience import API_COUNTERS, Counters
from extract.settings import ClientSettings
from extract.source import Progress, mollie_source
from orchestration.organizations import PARTITIONS, WAREHOUSE_POOL
from orchestration.warehouse import Warehouse

GROUP = "extract"
# Exponential from 1 min (1, 2, 4 min) with jitter, so a retry does not land in the same outage
# and several deployments do not retry in lockstep.
EXTRACT_RETRY = dg.RetryPolicy(
    max_retries=3, delay=60, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)

# A run with this tag set to "true" sweeps the mutable lists' look-back window now.
SWEEP_TAG = "mollie_ledger/sweep"

# The run's Mollie API counters go into the metadata under these keys (read back by
# orchestration.run_events for the metrics): attempts, retries, 429s and 5xx as numbers the UI
# plots, the latency histogram per endpoint family as JSON.
API_METADATA_PREFIX = "mollie_api/"
API_LATENCY = "latency_seconds"


def api_metadata(snapshot: dict[str, Any]) -> dict[str, Any]:
    """Materialization metadata for a `Counters.snapshot()`."""
    metadata: dict[str, Any] = {API_METADATA_PREFIX + name: snapshot[name] for name in API_COUNTERS}
    metadata[API_METADATA_PREFIX + API_LATENCY] = dg.MetadataValue.json(snapshot["latency"])
    return metadata


class MollieTranslator(DagsterDltTranslator):
    """Keys `["mollie", <table>]`, group `extract`, the table's grain as description."""

    def get_asset_spec(self, data: DltResourceTranslatorData) -> dg.AssetSpec:
        table = data.resource.name
        return (
            super()
            .get_asset_spec(data)
            .replace_attributes(
                key=dg.AssetKey([DATASET, table]),
                # The default deps are keys of non-existent upstream assets; raw tables have none.
                deps=[],
                group_name=GROUP,
                kinds={"dlt", "duckdb"},
                description=TABLES[table].grain,
            )
        )


# `@dlt_assets` is exactly this `multi_asset` over `build_dlt_asset_specs`, but takes no retry
# policy.
@dg.multi_asset(
    specs=build_dlt_asset_specs(
        dlt_source=mollie_source(),
        dlt_pipeline=describing_pipeline(),
        dagster_dlt_translator=MollieTranslator(),
    ),
    name="mollie_extract",
    can_subset=True,
    partitions_def=PARTITIONS,  # one partition per organization, when there are several
    pool=WAREHOUSE_POOL,  # DuckDB has one writer (orchestration.organizations)
    retry_policy=EXTRACT_RETRY,
)
def extract_assets(context: dg.AssetExecutionContext, dlt: DagsterDltResource) -> Iterator[Any]:
    """Load Mollie (MOLLIE_API_BASE_URL) into the `mollie` dataset of the run's organization;
    record row counts."""
    # Not the warehouse resource: a run of the extract alone must not need the settings of the
    # stages after it, which that resource checks at the start of every run.
    scope = Warehouse().of(context)
    try:
        scope.check_settings([preflight.EXTRACT])
    except preflight.SettingsError as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    progress = Progress()
    counters = Counters()  # the step's one client counts here; the asset reads them after

    def client_factory(settings: ClientSettings) -> MollieClient:
        return MollieClient(settings, counters=counters)

    try:
        settings = mollie_settings(scope.env)
    except ValueError as exc:  # no token, or a malformed setting: no retry can fix it
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    pipeline = make_pipeline(scope.path)
    sweep = {"sweep_hours": 0} if context.run.tags.get(SWEEP_TAG) == "true" else {}
    source = mollie_source(
        settings=settings, progress=progress, client_factory=client_factory, **sweep
    )
    try:
        results = list(dlt.run(context=context, dlt_source=source, dlt_pipeline=pipeline))
    except Exception as exc:
        _refuse_pointless_retry(exc, scope.organization)
        raise
    # Not dagster-dlt's `fetch_row_count()`: it fails for a table that received no rows in this
    # run (an incremental run with nothing new), which is the normal case here.
    counts = row_counts(pipeline, [r.asset_key.path[-1] for r in results])
    # One client served every table of the step, so each table carries the same run-wide API
    # numbers (readers take them once per step, not per table).
    api = api_metadata(counters.snapshot())
    for result in results:
        table = result.asset_key.path[-1]
        yield result._replace(
            metadata={
                **result.metadata,
                "dagster/row_count": counts[table],
                "quarantined": progress.quarantined.get(table, 0),  # records this run refused
                **api,
            }
        )
    context.log.info(
        "read: "
        + ", ".join(f"{t} {n} rows/{progress.pages[t]} pages" for t, n in progress.rows.items())
    )
    quarantined = sum(progress.quarantined.values())
    if quarantined:
        context.log.warning(
            f"{quarantined} record(s) could not be mapped and went to {DATASET}.quarantine: "
            + ", ".join(f"{t} {n}" for t, n in sorted(progress.quarantined.items()))
        )


def _refuse_pointless_retry(exc: Exception, org: Organization) -> None:
    """A Mollie error a retry cannot fix (401, 403, 404, 400/422) fails the step for good.
    With several organizations the message says whose token it was (and its variable)."""
    error = mollie_error(exc)
    # A credential problem is permanent even when it was caught before any request was sent
    # (a profile key on an organization endpoint, no token): it has no HTTP status then.
    credential = isinstance(error, MollieAuthError | MolliePermissionError)
    if (
        isinstance(error, MollieError)
        and not error.retryable
        and (error.status is not None or credential)
    ):
        # The client's own message: it never contains the token.
        whose = "" if org.is_default else f"organization {org.name} (token {org.token_env}): "
        raise dg.Failure(description=whose + str(error), allow_retries=False) from exc


resources = {"dlt": DagsterDltResource()}
