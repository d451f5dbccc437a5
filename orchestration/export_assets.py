"""Dagster assets for the exports: `["export", "csv"]` and `["export", "frappe"]` (group exports).

They sit downstream of the marts, so in a run the blocking quality checks on those marts stop
them before anything is written or posted. Both share the DuckDB pool: one writer at a time.
"""

# No `from __future__ import annotations`: Dagster reads the `context` annotation at definition
# time and does not resolve string annotations.

import dagster as dg

from export.csv_export import export_csv
from export.run import NO_FRAPPE, post_to_frappe
from export.settings import ExportSettings
from orchestration.organizations import PARTITIONS, WAREHOUSE_POOL
from orchestration.warehouse import OrganizationWarehouse, Warehouse
from transforms.models import discover

MART_KEYS = sorted(dg.AssetKey([m.schema, m.name]) for m in discover() if m.schema == "marts")
FRAPPE_DEPS = [
    dg.AssetKey(["marts", name])
    for name in ("journal_entries", "journal_entry_lines", "settlement_reconciliation")
]


def _settings(scope: OrganizationWarehouse) -> ExportSettings:
    return ExportSettings.from_env(scope.env, ledger_config=scope.config_path)


@dg.asset(
    key=["export", "csv"],
    deps=MART_KEYS,
    group_name="exports",
    kinds={"csv"},
    partitions_def=PARTITIONS,
    pool=WAREHOUSE_POOL,
    description="Every mart as CSV in MOLLIE_LEDGER_EXPORT_DIR (default data/exports/), each "
    "file written atomically, then manifest.json with row counts and SHA-256 checksums.",
)
def export_csv_files(
    context: dg.AssetExecutionContext, warehouse: Warehouse
) -> dg.MaterializeResult:
    scope = warehouse.of(context)
    settings = _settings(scope)
    with scope.connect(prepared=False) as con:
        result = export_csv(con, settings.export_dir)
    context.log.info(f"{len(result.files)} CSV files, {result.rows} rows in {result.folder}")
    return dg.MaterializeResult(
        metadata={
            "export_dir": dg.MetadataValue.path(str(result.folder)),
            "manifest": dg.MetadataValue.path(str(result.manifest)),
            "files": len(result.files),
            "rows": result.rows,
            "rows_per_file": dg.MetadataValue.json({f.file: f.rows for f in result.files}),
            "checksums": dg.MetadataValue.json({f.file: f.sha256 for f in result.files}),
        }
    )


@dg.asset(
    key=["export", "frappe"],
    deps=FRAPPE_DEPS,
    group_name="exports",
    kinds={"frappe"},
    partitions_def=PARTITIONS,
    pool=WAREHOUSE_POOL,
    description="Journal entries posted to Frappe/ERPNext (FRAPPE_URL) through the outbox "
    "export.outbox: each once, reruns post only what is missing; refusals wait in export.review.",
)
def export_frappe_entries(
    context: dg.AssetExecutionContext, warehouse: Warehouse
) -> dg.MaterializeResult:
    scope = warehouse.of(context)
    settings = _settings(scope)
    with scope.connect(prepared=False) as con:
        report = post_to_frappe(con, settings, run_id=context.run_id)
    if report is None:
        context.log.info(NO_FRAPPE)
        return dg.MaterializeResult(metadata={"status": NO_FRAPPE})
    counts = report.counts()
    metadata = {
        "status": "posted",
        "site": report.site,
        **counts,
        "review_keys": dg.MetadataValue.json(report.keys("review")),
        "failed_keys": dg.MetadataValue.json(report.keys("failed")),
    }
    if report.failed:
        # Recorded as failed in the outbox (the next run looks them up first); the run turns
        # red so someone notices.
        raise dg.Failure(
            description=f"{report.failed} journal entr(ies) could not be posted; see "
            "export.outbox_current where status = 'failed'",
            metadata=metadata,
        )
    context.log.info(", ".join(f"{k} {v}" for k, v in counts.items()))
    return dg.MaterializeResult(metadata=metadata)


export_assets = [export_csv_files, export_frappe_entries]
