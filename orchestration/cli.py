"""`mollie-ledger`: the command line. Each command's --help is its manual."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path

import click

from orchestration.bench import DEFAULT_REPEAT, DEFAULT_SCALE, RSS_ROWS
from orchestration.endpoint import SANDBOX_DAYS, SANDBOX_NOW, SANDBOX_PAYMENTS, SANDBOX_SEED

DEFAULT_NOW = SANDBOX_NOW


def _sandbox_options(f):
    """The options that describe a sandbox world (shared by `sandbox` and `demo`)."""
    options = [
        click.option(
            "--seed", default=SANDBOX_SEED, show_default=True, help="Random seed of the world."
        ),
        click.option(
            "--payments",
            default=SANDBOX_PAYMENTS,
            show_default=True,
            help="About how many payments over --days.",
        ),
        click.option("--days", default=SANDBOX_DAYS, show_default=True, help="Days of history."),
        click.option(
            "--now",
            default=DEFAULT_NOW,
            show_default=True,
            help="The moment the data ends (ISO 8601).",
        ),
        click.option(
            "--start",
            default=None,
            help="First day of history (default: --now minus --days). Keep it fixed "
            "and move --now to see the same history plus new activity.",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _config(seed: int, payments: int, days: int, now: str, start: str | None):
    from sandbox.generate import SandboxConfig

    if payments < 1 or days < 1:
        raise click.BadParameter("--payments and --days must be at least 1")
    try:
        return SandboxConfig.from_cli(seed=seed, payments=payments, days=days, now=now, start=start)
    except ValueError as exc:
        raise click.BadParameter(
            f"--now/--start must be ISO 8601 dates or instants: {exc}"
        ) from exc


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mollie-ledger")
def main() -> None:
    """mollie-ledger: Mollie finance data into DuckDB, reconciled to the cent, posted to the books.

    With no Mollie account configured, everything runs against the built-in Mollie sandbox.
    """


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8765, show_default=True, help="Port (0 = any free port).")
@_sandbox_options
@click.option(
    "--access-token",
    default=None,
    help="Organization access token the sandbox accepts (default: the built-in one).",
)
@click.option(
    "--rate-limit-share",
    default=0.0,
    show_default=True,
    help="Share of requests answered 429 with Retry-After (fault injection).",
)
@click.option(
    "--server-error-share",
    default=0.0,
    show_default=True,
    help="Share of requests answered with a 5xx (fault injection).",
)
@click.option(
    "--drop-share",
    default=0.0,
    show_default=True,
    help="Share of connections dropped without an answer (fault injection).",
)
@click.option(
    "--slow-share",
    default=0.0,
    show_default=True,
    help="Share of responses delayed by --slow-seconds (fault injection).",
)
@click.option("--slow-seconds", default=1.0, show_default=True)
def sandbox(
    host,
    port,
    seed,
    payments,
    days,
    now,
    start,
    access_token,
    rate_limit_share,
    server_error_share,
    drop_share,
    slow_share,
    slow_seconds,
) -> None:
    """Serve a built-in Mollie API v2 (a synthetic organization) over HTTP.

    The data is generated deterministically from --seed and is internally consistent to the
    cent. Point mollie-ledger (MOLLIE_API_BASE_URL) or Mollie's own SDKs at the printed URL.
    """
    from sandbox.server import DEFAULT_ACCESS_TOKEN, FaultConfig, SandboxServer

    config = _config(seed, payments, days, now, start)
    faults = FaultConfig(
        rate_limit_share=rate_limit_share,
        server_error_share=server_error_share,
        drop_share=drop_share,
        slow_share=slow_share,
        slow_seconds=slow_seconds,
        seed=seed,
    )
    token = access_token or DEFAULT_ACCESS_TOKEN
    if not token.startswith("access_"):
        raise click.BadParameter(
            "an organization access token starts with access_", param_hint="--access-token"
        )
    click.echo(
        f"Generating the sandbox organization (seed {seed}, ~{payments} payments)…", err=True
    )
    server = SandboxServer(config, host=host, port=port, faults=faults, access_token=token)
    server.start()
    world = server.world
    click.echo(f"Mollie sandbox serving {server.base_url}")
    click.echo(
        f"  {len(world.payments)} payments, {len(world.transactions)} balance transactions, "
        f"{len(world.settlements)} settlements, {len(world.invoices)} invoices"
    )
    click.echo(f"  export MOLLIE_API_BASE_URL={server.base_url}")
    if access_token is None:
        click.echo(
            f"  export MOLLIE_ACCESS_TOKEN={DEFAULT_ACCESS_TOKEN}   # the built-in demo token"
        )
    click.echo("Press Ctrl-C to stop.")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        click.echo("Sandbox stopped.", err=True)


@main.command()
@click.option(
    "--db",
    default=None,
    help="DuckDB file (default: MOLLIE_LEDGER_DB or data/mollie_ledger.duckdb).",
)
def run(db: str | None) -> None:
    """Run every stage once: extract, bank statements, transforms, quality gates, exports.

    A real Dagster run, in this process (recorded in DAGSTER_HOME when set). Without
    MOLLIE_ACCESS_TOKEN it runs against the built-in sandbox. Prints rows per mart, findings by
    check and settlements matched; exits 1 when any step failed (downstream steps are skipped).
    """
    _log_to_stderr()
    _run_and_report(db)


def _run_and_report(db: str | None) -> None:
    from orchestration.runner import format_summary, run_pipeline

    summary = run_pipeline(db)
    click.echo(format_summary(summary))
    if not summary.success:
        raise SystemExit(1)


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
def ui(host: str, port: int, dagster_home: str | None) -> None:
    """Start the Dagster UI on this project (`dagster dev`: web UI plus the daemon that runs
    the daily schedule and the sensors).

    The instance folder persists between starts and gets the project's dagster.yaml linked in.
    Stop it with Ctrl-C.
    """
    from orchestration.ui import prepare_home, run_dagster_dev

    home = prepare_home(dagster_home)
    click.echo(f"Dagster UI: http://{host}:{port}  (DAGSTER_HOME={home}; Ctrl-C stops it)")
    sys.stdout.flush()  # Dagster's own output follows on the same stream
    raise SystemExit(run_dagster_dev(host, port, home))


@main.command()
@_sandbox_options
@click.option(
    "--folder",
    default="data/demo",
    show_default=True,
    help="Where the demo keeps its warehouse, bank statements and exports.",
)
def demo(seed, payments, days, now, start, folder) -> None:
    """Run the whole pipeline once against the built-in Mollie sandbox and show the results.

    Uses its own folder, never your real warehouse, and ignores any MOLLIE_ACCESS_TOKEN.
    """
    _config(seed, payments, days, now, start)  # validate the options before anything starts
    for name in ("MOLLIE_ACCESS_TOKEN", "SOURCES__MOLLIE__ACCESS_TOKEN"):
        os.environ.pop(name, None)
    os.environ.update(
        {
            "MOLLIE_LEDGER_SANDBOX_SEED": str(seed),
            "MOLLIE_LEDGER_SANDBOX_PAYMENTS": str(payments),
            "MOLLIE_LEDGER_SANDBOX_DAYS": str(days),
            "MOLLIE_LEDGER_SANDBOX_NOW": now,
            "MOLLIE_LEDGER_BANK_DIR": os.path.join(folder, "bank"),
            "MOLLIE_LEDGER_EXPORT_DIR": os.path.join(folder, "exports"),
            "MOLLIE_LEDGER_REPORT_DIR": os.path.join(folder, "report"),
        }
    )
    if start:
        click.echo(
            "note: the demo's sandbox starts --days before --now; --start is ignored", err=True
        )
    _log_to_stderr()
    click.echo(
        f"Demo: a synthetic association (seed {seed}, ~{payments} payments over {days} "
        f"days up to {now}) served by the built-in Mollie sandbox; warehouse in {folder}/"
    )
    _run_and_report(os.path.join(folder, "mollie_ledger.duckdb"))
    click.echo(
        f"Explore it: the tables are in {folder}/mollie_ledger.duckdb (schemas mollie, "
        "staging, marts); `mollie-ledger ui` shows every asset."
    )


@main.command()
@click.option(
    "--dry-run",
    is_flag=True,
    help="Write the exact Frappe payloads to <export dir>/frappe-dry-run/ instead of posting.",
)
@click.option(
    "--db",
    type=click.Path(dir_okay=False),
    default=None,
    help="The DuckDB file. Default: $MOLLIE_LEDGER_DB, else data/mollie_ledger.duckdb.",
)
def export(dry_run: bool, db: str | None) -> None:
    """Export CSV and post journal entries to Frappe from what is already in the warehouse.

    Runs only if the latest quality gates passed (`mollie-ledger run` records them). CSV goes to
    MOLLIE_LEDGER_EXPORT_DIR (default data/exports/) with manifest.json. With FRAPPE_URL,
    FRAPPE_API_KEY and FRAPPE_API_SECRET set, each journal entry is posted once; reruns post only
    what is missing, and refusals wait in export.review.
    """
    from orchestration.export_cli import EXPORT_ERRORS, format_report, run_export

    _log_to_stderr()
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

    _log_to_stderr()
    serve_webhooks(port=port, host=host, queue_path=queue_path, echo=click.echo)


@main.command("erase-customer")
@click.argument("customer_id")
@click.option(
    "--db",
    type=click.Path(dir_okay=False),
    default=None,
    help="The DuckDB file. Default: $MOLLIE_LEDGER_DB, else data/mollie_ledger.duckdb.",
)
def erase_customer(customer_id: str, db: str | None) -> None:
    """Erase one customer's personal data (GDPR): CUSTOMER_ID is its Mollie id, cst_….

    Blanks its name, email, IBANs and card holder in the raw tables (its payments, quarantined
    records and dlt's archived loads included), puts it on the erase list so later extracts keep
    them blank, rebuilds the models and checks that the books did not change. Exits 1 if they
    did. The warehouse file is rewritten so no old copy of the data stays in it (needs as much
    free disk as the file). Exports and Frappe carry no customer data.
    """
    from extract.erasure import ErasureError, check_customer_id
    from extract.pipeline import warehouse_path
    from extract.warehouse_lock import WarehouseError
    from orchestration.endpoint import has_token
    from transforms.config import ConfigError, LedgerConfig
    from transforms.erase import erase_and_rebuild, format_outcome

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


def _log_to_stderr() -> None:
    """Show our progress and warnings (sandbox in use, retries, quarantine) on stderr."""
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    logging.getLogger("mollie_ledger").setLevel(logging.INFO)


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
@click.option(
    "--db",
    type=click.Path(dir_okay=False),
    default=None,
    help="The DuckDB file. Default: $MOLLIE_LEDGER_DB, else data/mollie_ledger.duckdb.",
)
def extract(full_refresh: bool, resources: str | None, sweep: bool, db: str | None) -> None:
    """Extract Mollie finance data into the DuckDB dataset `mollie` (incremental).

    Reads MOLLIE_ACCESS_TOKEN (an organization access token) and MOLLIE_API_BASE_URL; with no
    token it extracts from the built-in sandbox. Prints the rows loaded per table and how many
    records went to mollie.quarantine. Safe to re-run at any time, also after a crash.

    Every run loads what is new. Changed payments, refunds, chargebacks, customers and
    subscriptions are re-read (a look-back sweep of 60 days) when money moved since the last
    sweep or that sweep is 12 hours old; --sweep forces one.
    """
    from export import preflight
    from extract.errors import redact
    from extract.pipeline import check_resources, mollie_error, run_extract, warehouse_path
    from extract.settings import DLT_SECRET_ACCESS_TOKEN, ENV_ACCESS_TOKEN
    from orchestration.endpoint import mollie_settings

    names = [n.strip() for n in resources.split(",") if n.strip()] if resources else None
    try:
        check_resources(names)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--resources") from None
    try:
        preflight.check([preflight.EXTRACT], db_path=db)
    except preflight.SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    _log_to_stderr()
    path = warehouse_path(db)
    try:
        with mollie_settings() as settings:
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


@main.command()
@click.option(
    "--scale",
    default=DEFAULT_SCALE,
    show_default=True,
    help=f"Sandbox payments (over {SANDBOX_DAYS} days) for the extract, transforms and exports.",
)
@click.option(
    "--repeat", default=DEFAULT_REPEAT, show_default=True, help="Runs per figure (the median)."
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("docs/benchmarks.md"),
    show_default=True,
    help="The markdown report; the JSON goes beside it (same name, .json).",
)
@click.option(
    "--demo-payments",
    default=SANDBOX_PAYMENTS,
    show_default=True,
    help="Payments for the timed `mollie-ledger demo` (its default scale).",
)
@click.option(
    "--baseline",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="The JSON of an earlier run: the report adds a before/after table.",
)
@click.option(
    "--rss-rows",
    default=RSS_ROWS,
    show_default=True,
    help="Rows for the untimed extract measuring peak memory (0: skip it).",
)
@click.option("--note", default="", help="What this run is, shown when it is a later baseline.")
@click.option(
    "--profile/--no-profile",
    default=True,
    show_default=True,
    help="Profile (cProfile) each stage whose target is missed.",
)
def bench(scale, repeat, out, demo_payments, baseline, rss_rows, note, profile) -> None:
    """Measure every stage on this machine against its yardstick and write the report.

    Extract against a bare HTTP walk of the same pages, reruns against the full extract,
    transforms against a bare ledger scan; gates, exports and `mollie-ledger demo` in seconds.
    Every figure is the median of --repeat runs. Needs a quiet machine for absolute figures.
    """
    import json

    from orchestration.bench import BenchOptions, run_bench
    from orchestration.bench_report import write_reports

    if scale < 1 or repeat < 1 or demo_payments < 1:
        raise click.BadParameter("--scale, --repeat and --demo-payments must be at least 1")
    if rss_rows < 0:
        raise click.BadParameter("--rss-rows must be 0 (skip) or more")
    options = BenchOptions(
        scale=scale,
        repeat=repeat,
        demo_payments=demo_payments,
        profile=profile,
        note=note,
        rss_rows=rss_rows,
        log=lambda line: click.echo(line, err=True),
    )
    results = run_bench(options)
    before = json.loads(baseline.read_text()) if baseline else None
    md, js = write_reports(results, out, before)
    for t in results["targets"]:
        verdict = "met" if t["met"] else "MISSED"
        scale = "" if t["at_target_scale"] else " (below its scale)"
        click.echo(f"  [{verdict}] {t['target']}: {t['measured']}{scale}")
    click.echo(f"Wrote {md} and {js}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
