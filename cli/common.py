"""What several commands share: logging to stderr, and running the daily job with its summary."""

from __future__ import annotations

import logging
import sys

import click


def log_to_stderr() -> None:
    """Show our progress and warnings (retries, quarantine, the sandbox in use) on stderr."""
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    logging.getLogger("mollie_ledger").setLevel(logging.INFO)


def run_and_report(db: str | None) -> None:
    """One in-process run of the daily job, then its summary and what analysts now see in the
    published warehouse; exits 1 when a step failed."""
    from export.analyst import publication_status
    from extract.paths import warehouse_path
    from orchestration.run_job import run_pipeline
    from reporting.run_summary import format_summary

    summary = run_pipeline(db)
    click.echo(format_summary(summary))
    # Which copy analysts have now: this run's, or (failed run) the last good one, kept.
    click.echo(publication_status(warehouse_path(db), run_succeeded=summary.success))
    if not summary.success:
        raise SystemExit(1)
