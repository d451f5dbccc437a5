"""The exports as one sequence: `mollie-ledger export [--dry-run]` and the export assets.

Order matters: the gates are read first and a refusal stops everything before a single file is
replaced or a request sent; then the CSV files; then Frappe (posting, or the dry run's payload
files). In a Dagster run the blocking checks are the gates, and the assets call `export_csv` and
`post_to_frappe` themselves; standalone, the CLI calls `run_export` and prints `format_report`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

from export.csv_export import CsvExport, CsvExportError, export_csv
from export.dry_run import DryRunReport, write_dry_run
from export.frappe_client import FrappeClient, FrappeError
from export.gates import GateRefusal, require_gates_passed
from export.outbox import ensure_review_view
from export.posting import PostingReport, post_entries
from export.settings import ENV_FRAPPE_URL, ExportConfigError, ExportSettings
from extract.paths import warehouse_path
from quality.gate_results import GateResult

NO_FRAPPE = f"{ENV_FRAPPE_URL} not set: nothing posted"
# What stops an export with a message for the user rather than a traceback.
EXPORT_ERRORS = (GateRefusal, ExportConfigError, CsvExportError, FrappeError)


@dataclass
class ExportReport:
    export_dir: Path
    gates: list[GateResult]
    csv: CsvExport
    posting: PostingReport | None = None
    dry_run: DryRunReport | None = None
    frappe_note: str | None = None  # why nothing was posted, when nothing was

    @property
    def ok(self) -> bool:
        """False when some entry failed to post (it is retried on the next run)."""
        return self.posting is None or self.posting.failed == 0


def post_to_frappe(
    con: duckdb.DuckDBPyConnection, settings: ExportSettings, *, run_id: str | None = None
) -> PostingReport | None:
    """Post the journal entries through the outbox; None (and nothing posted) without Frappe
    settings, when the review view is still created: mismatched settlements are worth a look
    without Frappe too. The export asset and `run_export` both post through here."""
    if settings.frappe is None:
        ensure_review_view(con)
        return None
    with FrappeClient(settings.frappe) as client:
        return post_entries(con, client, company_currency=settings.company_currency, run_id=run_id)


def run_export(dry_run: bool, db_path: str | os.PathLike[str] | None = None) -> ExportReport:
    """Gates, CSV, then Frappe (or the dry run). Raises one of EXPORT_ERRORS to stop."""
    settings = ExportSettings.from_env()
    db = warehouse_path(db_path)
    if not db.exists():
        raise GateRefusal(f"no warehouse at {db}: run `mollie-ledger run` first")
    con = duckdb.connect(str(db))
    try:
        gates = require_gates_passed(con)
        csv = export_csv(con, settings.export_dir)
        report = ExportReport(settings.export_dir, gates, csv)
        if dry_run:
            report.dry_run = write_dry_run(
                con, settings.export_dir, company_currency=settings.company_currency
            )
            report.frappe_note = "dry run: payloads written, nothing posted"
        else:
            report.posting = post_to_frappe(con, settings)
            if report.posting is None:
                report.frappe_note = NO_FRAPPE
    finally:
        con.close()
    return report


def format_report(report: ExportReport) -> str:
    """What the CLI prints after an export."""
    lines = [
        f"CSV: {len(report.csv.files)} files, {report.csv.rows} rows in {report.export_dir} "
        f"(manifest {report.csv.manifest.name})"
    ]
    warned = [g for g in report.gates if not g.passed]
    if warned:
        lines.append(f"Gates: passed, with {len(warned)} failed warning(s)")
    if report.dry_run is not None:
        c = report.dry_run.counts
        lines.append(
            f"Frappe dry run ({report.dry_run.folder}): {c['would_post']} would be "
            f"posted, {c['already_posted']} already posted, {c['review']} in review, "
            f"{c['settlements_in_review']} settlement(s) not reconciled"
        )
    if report.posting is not None:
        c = report.posting.counts()
        lines.append(
            f"Frappe ({report.posting.site}): {c['posted']} posted, "
            f"{c['already_posted']} already there, {c['unchanged']} posted before, "
            f"{c['review']} in review, {c['failed']} failed, "
            f"{c['settlements_in_review']} settlement(s) not reconciled"
        )
        lines += [
            f"  review {o.posting_key}: {o.message}"
            for o in report.posting.outcomes
            if o.result == "review"
        ]
        lines += [
            f"  FAILED {o.posting_key}: {o.message}"
            for o in report.posting.outcomes
            if o.result == "failed"
        ]
        for what, keys in (
            ("held by the models", [h.posting_key for h in report.posting.entries_held]),
            ("posted but no longer produced", report.posting.vanished_after_posting),
        ):
            if keys:
                lines.append(f"  {len(keys)} entr(ies) {what}: see export.review")
        if report.posting.changed_after_posting:
            lines.append(
                f"  {len(report.posting.changed_after_posting)} posted entr(ies) changed "
                "since posting: see export.audit_log (action changed_after_posting)"
            )
    elif report.frappe_note and report.dry_run is None:
        lines.append(f"Frappe: {report.frappe_note}")
    return "\n".join(lines)
