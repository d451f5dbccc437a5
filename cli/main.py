"""`mollie-ledger`: the command line. Each command's --help is its manual.

Thin on purpose: each command parses its options, calls the same plain function the Dagster
asset or job calls (orchestration.run_job, export.run, extract.pipeline, transforms.erase) and
prints what it returned. The sandbox's commands (`sandbox`, `demo`) are in cli.dev.
"""

from __future__ import annotations

import os
import sys

import click

from cli.common import (
    listed_organization,
    listed_organizations,
    log_to_stderr,
    organization_option,
    run_and_report,
    sandbox_organizations_option,
    use_organization,
)

SANDBOX_BANK_DIR = os.path.join("data", "sandbox", "bank")  # `ui --sandbox`'s own drop folder


# Every command that opens the warehouse takes it the same way.
_db_option = click.option(
    "--db",
    type=click.Path(dir_okay=False),
    default=None,
    help="The DuckDB file. Default: $MOLLIE_LEDGER_DB, else data/mollie_ledger.duckdb.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mollie-ledger")
def main() -> None:
    """mollie-ledger: Mollie finance data into DuckDB, reconciled to the cent, posted to the books.

    `run` and `extract` need a Mollie organization access token (MOLLIE_ACCESS_TOKEN); `demo`
    and `ui --sandbox` run everything against the built-in Mollie sandbox instead.
    """


@main.command()
@_db_option
@click.option(
    "--organization",
    "organizations",
    multiple=True,
    metavar="NAME",
    help="With MOLLIE_LEDGER_ORGANIZATIONS: run only this organization (repeatable). "
    "Default: every organization in the file.",
)
def run(db: str | None, organizations: tuple[str, ...]) -> None:
    """Run every stage once: extract, bank statements, transforms, quality gates, exports.

    A real Dagster run, in this process (recorded in DAGSTER_HOME when set). Needs
    MOLLIE_ACCESS_TOKEN (`mollie-ledger demo` runs against the built-in sandbox). Prints rows per
    mart, findings by check and settlements matched; exits 1 when any step failed (downstream
    steps are skipped).

    With several organizations (MOLLIE_LEDGER_ORGANIZATIONS names their list) it runs each in
    turn, with its own token, warehouse and books: one organization's failure does not stop
    the others, and the exit status is 1 when any of them failed.
    """
    log_to_stderr()
    run_and_report(db, organizations)


def _published_options(f):
    """Which publication to read: a file, an organization's, or the default one."""
    f = click.option(
        "--organization",
        metavar="NAME",
        default=None,
        help="With MOLLIE_LEDGER_ORGANIZATIONS: read this organization's publication.",
    )(f)
    return click.option(
        "--published",
        type=click.Path(dir_okay=False),
        default=None,
        help="The published file. Default: $MOLLIE_LEDGER_PUBLISHED_DB, else "
        "<warehouse>.published.duckdb beside the warehouse "
        "(data/mollie_ledger.published.duckdb).",
    )(f)


def _publication(published: str | None, organization: str | None) -> tuple[str | None, str]:
    """The publication asked for (None: the default beside the warehouse) and that warehouse."""
    from extract.paths import warehouse_path

    if organization is None:
        return published, str(warehouse_path(None))
    if published:
        raise click.UsageError("give --published or --organization, not both")
    org = listed_organization(organization, listed_organizations())
    return str(org.published), str(org.warehouse)


@main.command()
@click.argument("sql")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table")
@_published_options
def query(sql: str, fmt: str, published: str | None, organization: str | None) -> None:
    """Run SQL on the published warehouse (read-only) and print the result.

    The published file is the copy of schemas staging and marts that the last successful run
    left for analysts; reading it never blocks a run. Money is printed exactly (in JSON as
    strings). Example: mollie-ledger query "select * from marts.daily_overview limit 7"
    """
    from export.analyst import AnalystError, query_published

    published, warehouse = _publication(published, organization)
    try:
        click.echo(query_published(published, warehouse, sql, fmt))
    except AnalystError as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@_published_options
def shell(published: str | None, organization: str | None) -> None:
    """An interactive SQL prompt on the published warehouse, read-only.

    DuckDB's own CLI (`duckdb -readonly FILE`) when a `duckdb` binary is on PATH, else a small
    built-in prompt (statements end with `;`, `.quit` leaves).
    """
    from export.analyst import AnalystError, start_shell

    published, warehouse = _publication(published, organization)
    try:
        start_shell(published, warehouse, echo=lambda line: click.echo(line, err=True))
    except AnalystError as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=3000, show_default=True, help="Port of the web UI.")
@click.option(
    "--dagster-home",
    type=click.Path(file_okay=False),
    default=None,
    help="Dagster's instance folder (run history, schedule and sensor state). "
    "Default: $DAGSTER_HOME, else .dagster_home/ in the project.",
)
@click.option(
    "--sandbox",
    "with_sandbox",
    is_flag=True,
    help="Serve the built-in Mollie sandbox for as long as the UI runs and point the runs at it "
    "(its bank statements in data/sandbox/bank/); needs a clone, as `make ui` does without "
    "MOLLIE_ACCESS_TOKEN.",
)
@sandbox_organizations_option(
    "with --sandbox, listed in data/sandbox/organizations.toml: every asset is then "
    "partitioned by organization"
)
def ui(
    host: str, port: int, dagster_home: str | None, with_sandbox: bool, organizations: int
) -> None:
    """Start the Dagster UI on this project (`dagster dev`: web UI plus the daemon that runs
    the daily schedule and the sensors).

    The instance folder persists between starts and gets the project's dagster.yaml linked in.
    Stop it with Ctrl-C.
    """
    from cli.ui import prepare_home, run_dagster_dev

    home = prepare_home(dagster_home)
    if organizations > 1 and not with_sandbox:
        raise click.UsageError(
            "--organizations is for the sandbox (with --sandbox); list real organizations in "
            "MOLLIE_LEDGER_ORGANIZATIONS"
        )
    if not with_sandbox:
        click.echo(f"Dagster UI: http://{host}:{port}  (DAGSTER_HOME={home}; Ctrl-C stops it)")
        sys.stdout.flush()  # Dagster's own output follows on the same stream
        raise SystemExit(run_dagster_dev(host, port, home))
    try:
        from sandbox.demo import sandbox_environment, sandbox_organizations
    except ModuleNotFoundError:
        raise click.ClickException(
            "--sandbox needs the sandbox, which is in the repository, not the package: run "
            "`make ui` from a clone"
        ) from None
    log_to_stderr()
    served = (
        sandbox_organizations(os.path.dirname(SANDBOX_BANK_DIR), organizations)
        if organizations > 1
        else sandbox_environment(SANDBOX_BANK_DIR)
    )
    with served as started:
        server = started[0] if organizations > 1 else started
        click.echo(
            f"Dagster UI: http://{host}:{port}  (DAGSTER_HOME={home}; Mollie sandbox at "
            f"{server.base_url}; Ctrl-C stops both)"
        )
        sys.stdout.flush()
        code = run_dagster_dev(host, port, home)
    raise SystemExit(code)


@main.command()
@click.option(
    "--dry-run",
    is_flag=True,
    help="Write the exact Frappe payloads to <export dir>/frappe-dry-run/ instead of posting.",
)
@_db_option
@organization_option
def export(dry_run: bool, db: str | None, organization: str | None) -> None:
    """Export CSV and post journal entries to Frappe from what is already in the warehouse.

    Runs only if the latest quality gates passed (`mollie-ledger run` records them). CSV goes to
    MOLLIE_LEDGER_EXPORT_DIR (default data/exports/) with manifest.json. With FRAPPE_URL,
    FRAPPE_API_KEY and FRAPPE_API_SECRET set, each journal entry is posted once; reruns post only
    what is missing, and refusals wait in export.review.
    """
    from export.run import EXPORT_ERRORS, format_report, run_export

    use_organization(organization, db)
    log_to_stderr()
    try:
        report = run_export(dry_run=dry_run, db_path=db)
    except EXPORT_ERRORS as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(format_report(report))
    if not report.ok:
        sys.exit(1)


@main.command()
@click.option("--port", default=8766, show_default=True, help="Port (0 = any free port).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--queue",
    "queue_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="The queue file. Default: $MOLLIE_LEDGER_WEBHOOK_QUEUE, else data/webhooks.sqlite.",
)
def webhooks(port: int, host: str, queue_path: str | None) -> None:
    """Receive Mollie webhooks into a local queue for the refresh sensor.

    Signed next-gen events (X-Mollie-Signature) are verified against MOLLIE_WEBHOOK_SECRETS
    (comma-separated: old and new during a rotation); classic id-only webhooks are kept as hints
    to re-fetch that object. Turn on `mollie_webhook_sensor` in Dagster to refresh from them.
    Runs until Ctrl-C or SIGTERM.
    """
    from extract.webhooks import serve_webhooks

    log_to_stderr()
    serve_webhooks(port=port, host=host, queue_path=queue_path, echo=click.echo)


@main.command("erase-customer")
@click.argument("customer_id")
@_db_option
@organization_option
def erase_customer(customer_id: str, db: str | None, organization: str | None) -> None:
    """Erase one customer's personal data (GDPR): CUSTOMER_ID is its Mollie id, cst_….

    Blanks its name, email, IBANs and card holder in the raw tables (its payments, quarantined
    records and dlt's archived loads included), puts it on the erase list so later extracts keep
    them blank, rebuilds the models and checks that the books did not change. Exits 1 if they
    did. The warehouse file is rewritten so no old copy of the data stays in it (needs as much
    free disk as the file). Exports and Frappe carry no customer data.
    """
    from extract.endpoint import has_token
    from extract.erasure import ErasureError, check_customer_id
    from extract.paths import warehouse_path
    from extract.warehouse_lock import WarehouseError
    from transforms.config import ConfigError, LedgerConfig
    from transforms.erase import erase_and_rebuild, format_outcome

    use_organization(organization, db)
    try:
        check_customer_id(customer_id)
        config = LedgerConfig.load()
        key = config.require_pii_key(using_sandbox=not has_token())
        outcome = erase_and_rebuild(warehouse_path(db), customer_id, config, key)
    except (ErasureError, WarehouseError, ConfigError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(format_outcome(outcome))
    if not outcome.books_intact:
        sys.exit(1)


@main.command()
@click.option(
    "--full-refresh",
    is_flag=True,
    help="Forget the incremental state and reload everything (with --resources: only those).",
)
@click.option(
    "--resources",
    default=None,
    metavar="A,B",
    help="Only these tables, comma-separated (e.g. payments,balance_transactions). Default: all.",
)
@click.option(
    "--sweep",
    is_flag=True,
    help="Re-read the look-back window of payments, refunds, chargebacks, customers and "
    "subscriptions now, even if no money moved and the last sweep is recent.",
)
@_db_option
@organization_option
def extract(
    full_refresh: bool, resources: str | None, sweep: bool, db: str | None, organization: str | None
) -> None:
    """Extract Mollie finance data into the DuckDB dataset `mollie` (incremental).

    Reads MOLLIE_ACCESS_TOKEN (an organization access token, required) and
    MOLLIE_API_BASE_URL. Prints the rows loaded per table and how many
    records went to mollie.quarantine. Safe to re-run at any time, also after a crash.

    Every run loads what is new. Changed payments, refunds, chargebacks, customers and
    subscriptions are re-read (a look-back sweep of 60 days) when money moved since the last
    sweep or that sweep is 12 hours old; --sweep forces one.
    """
    from export import preflight
    from extract.endpoint import MissingTokenError, mollie_settings
    from extract.errors import redact
    from extract.paths import warehouse_path
    from extract.pipeline import check_resources, mollie_error, run_extract
    from extract.settings import DLT_SECRET_ACCESS_TOKEN, ENV_ACCESS_TOKEN

    use_organization(organization, db)
    names = [n.strip() for n in resources.split(",") if n.strip()] if resources else None
    try:
        check_resources(names)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--resources") from None
    try:
        preflight.check([preflight.EXTRACT], db_path=db)
    except preflight.SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    log_to_stderr()
    path = warehouse_path(db)
    try:
        settings = mollie_settings()
    except MissingTokenError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        result = run_extract(
            path,
            resources=names,
            full_refresh=full_refresh,
            settings=settings,
            sweep_hours=0 if sweep else None,
        )
    except Exception as exc:
        typed = mollie_error(exc)  # dlt wraps it; its message says what to do
        message = str(typed) if typed else f"{type(exc).__name__}: {exc}"
        # Typed errors are redacted already; anything else is scrubbed here, just in case.
        for name in (ENV_ACCESS_TOKEN, DLT_SECRET_ACCESS_TOKEN):
            message = redact(message, (os.environ.get(name) or "").strip())
        raise click.ClickException(f"extract failed: {message}") from None

    click.echo(f"Extracted into {path} (dataset mollie):")
    click.echo(f"  {'table':<26}{'rows':>10}")
    for table, n in result.rows.items():
        click.echo(f"  {table:<26}{n:>10}")
    quarantined = result.quarantined_total
    if quarantined:
        detail = ", ".join(f"{t} {n}" for t, n in sorted(result.quarantined.items()))
        click.echo(f"Quarantined {quarantined} record(s) into mollie.quarantine: {detail}")
    else:
        click.echo("Quarantined 0 records.")


def _add_dev_commands() -> None:
    """`sandbox` and `demo`, when the sandbox is there (a clone; the wheel leaves it out)."""
    try:
        from cli.dev import demo, sandbox
    except ModuleNotFoundError as exc:
        if exc.name != "sandbox" and not (exc.name or "").startswith("sandbox."):
            raise
        return
    main.add_command(sandbox)
    main.add_command(demo)


_add_dev_commands()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
