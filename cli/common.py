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
    """One in-process run of the daily job, then its summary; exits 1 when a step failed."""
    from orchestration.run_job import run_pipeline
    from reporting.run_summary import format_summary

    summary = run_pipeline(db)
    click.echo(format_summary(summary))
    if not summary.success:
        raise SystemExit(1)
