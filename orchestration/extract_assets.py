"""The extract layer as Dagster assets: one asset per raw table of the dlt source, `mollie/<table>`.

`@dlt_assets` turns each selected resource of `mollie_source()` into an asset (the hidden
`settlement_objects` / `invoice_objects` helpers are `selected=False`, so they are not assets).
The source and pipeline given to the decorator only describe the assets; the run builds both
again inside `mollie_settings()`, so a run reads the token, sandbox and warehouse path of its own
environment (and starts the built-in sandbox when no token is set).
"""

# No `from __future__ import annotations` here: Dagster inspects the `context` annotation of the
# asset function at definition time and does not resolve string annotations.

from collections.abc import Iterator
from typing import Any

import dagster as dg
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData

from extract.pipeline import DATASET, make_pipeline, row_counts
from extract.records import TABLES
from extract.source import Progress, mollie_source
from orchestration.endpoint import mollie_settings

GROUP = "extract"


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


@dlt_assets(
    dlt_source=mollie_source(),
    dlt_pipeline=make_pipeline(),
    name="mollie_extract",
    dagster_dlt_translator=MollieTranslator(),
    pool="duckdb",  # DuckDB has one writer: every asset touching the warehouse shares this pool
)
def extract_assets(context: dg.AssetExecutionContext, dlt: DagsterDltResource) -> Iterator[Any]:
    """Load Mollie (or the built-in sandbox) into the `mollie` dataset; record row counts."""
    progress = Progress()
    pipeline = make_pipeline()
    with mollie_settings() as settings:
        source = mollie_source(settings=settings, progress=progress)
        results = list(dlt.run(context=context, dlt_source=source, dlt_pipeline=pipeline))
    # Not dagster-dlt's `fetch_row_count()`: it fails for a table that received no rows in this
    # run (an incremental run with nothing new), which is the normal case here.
    counts = row_counts(pipeline, [r.asset_key.path[-1] for r in results])
    for result in results:
        table = result.asset_key.path[-1]
        yield result._replace(
            metadata={
                **result.metadata,
                "dagster/row_count": counts[table],
                "quarantined": progress.quarantined.get(table, 0),  # records this run refused
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


resources = {"dlt": DagsterDltResource()}
