"""What several commands share: logging to stderr, and running the daily job with its summary."""

from __future__ import annotations

import logging
import os
import sys

import click

from extract.organizations import Organization
from extract.paths import ENV_DB


def log_to_stderr() -> None:
    """Show our progress and warnings (retries, quarantine, the sandbox in use) on stderr."""
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    logging.getLogger("mollie_ledger").setLevel(logging.INFO)


def run_and_report(db: str | None, organizations: tuple[str, ...] = ()) -> None:
    """One in-process run of the daily job (one per organization when the deployment lists
    several), then its summary and what analysts now see in the published warehouse; exits 1
    when a step of any run failed."""
    from export.analyst import publication_status
    from extract.organizations import OrganizationsError
    from reporting.run_summary import format_summary

    try:
        from orchestration.organizations import MANY
        from orchestration.run_job import run_organizations
    except OrganizationsError as exc:  # the organizations file itself is unusable
        raise click.ClickException(str(exc)) from None
    if not MANY and organizations:
        raise click.UsageError(
            "--organization needs a list of organizations (MOLLIE_LEDGER_ORGANIZATIONS, see "
            "config/organizations.example.toml)"
        )
    if MANY and db:
        raise click.UsageError(
            "--db names one warehouse, but each organization of MOLLIE_LEDGER_ORGANIZATIONS "
            "has its own: choose organizations with --organization"
        )
    if db:
        os.environ[ENV_DB] = db
    try:
        runs = run_organizations(organizations)
    except OrganizationsError as exc:
        raise click.UsageError(str(exc)) from None
    for run in runs:
        if MANY:
            click.echo(f"== organization {run.name} ({run.warehouse.path}) ==")
        click.echo(format_summary(run.summary))
        # Which copy analysts have now: this run's, or (failed run) the last good one, kept.
        click.echo(
            publication_status(
                run.warehouse.path, run_succeeded=run.summary.success, env=run.warehouse.env
            )
        )
    failed = [run.name for run in runs if not run.summary.success]
    if MANY:
        click.echo(
            f"{len(runs)} organization(s): {len(runs) - len(failed)} succeeded"
            + (f", {len(failed)} failed ({', '.join(failed)})" if failed else "")
        )
    if failed:
        raise SystemExit(1)


def listed_organizations() -> dict[str, Organization]:
    """The organizations MOLLIE_LEDGER_ORGANIZATIONS lists, by name (empty without a list)."""
    from extract.organizations import OrganizationsError, load_organizations

    try:
        return {o.name: o for o in load_organizations() if not o.is_default}
    except OrganizationsError as exc:
        raise click.ClickException(str(exc)) from None


def listed_organization(name: str, listed: dict[str, Organization]) -> Organization:
    """The organization `--organization NAME` names, or a usage error saying which exist."""
    if not listed:
        raise click.UsageError(
            "--organization needs a list of organizations (MOLLIE_LEDGER_ORGANIZATIONS, "
            "see config/organizations.example.toml)"
        )
    if name not in listed:
        raise click.UsageError(f"no organization {name!r} (known: {', '.join(listed)})")
    return listed[name]


def use_organization(name: str | None, db: str | None) -> None:
    """Point this command at one organization of MOLLIE_LEDGER_ORGANIZATIONS: its token,
    warehouse, ledger configuration and folders become this process's settings. Without a list
    nothing changes; with one, the command must say which organization it means."""
    listed = listed_organizations()
    if not listed and name is None:
        return
    if name is None:
        raise click.UsageError(
            f"MOLLIE_LEDGER_ORGANIZATIONS lists {', '.join(listed)}: choose one with --organization"
        )
    if listed and db:
        raise click.UsageError("--db names one warehouse, but each organization has its own")
    org = listed_organization(name, listed)
    from orchestration.organizations import missing_token, organization_env

    if (problem := missing_token(org)) is not None:
        raise click.ClickException(problem)
    env = organization_env(org)
    for key in set(os.environ) - set(env):  # the deployment's own token, for one
        del os.environ[key]
    os.environ.update(env)


organization_option = click.option(
    "--organization",
    metavar="NAME",
    default=None,
    help="With MOLLIE_LEDGER_ORGANIZATIONS: the organization to work on (its token, warehouse "
    "and files).",
)


def sandbox_organizations_option(what: str):
    """`--organizations N` of the sandbox commands: N sandbox organizations instead of one."""
    return click.option(
        "--organizations",
        type=click.IntRange(1, 20),
        default=1,
        show_default=True,
        help="Serve this many sandbox organizations (one token, warehouse, folder and ERPNext "
        f"company each) {what}.",
    )
