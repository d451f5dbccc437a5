"""The development and demo commands: `mollie-ledger sandbox` and `mollie-ledger demo`.

They need the sandbox (sandbox/), which lives in the repository but not in the wheel: from a
clone (`make demo`, `make sandbox`) they are there; an installed package has only the product's
commands, and cli.main leaves these out.
"""

from __future__ import annotations

import os
import signal
import threading

import click

from cli.common import log_to_stderr, run_and_report, sandbox_organizations_option
from sandbox.demo import (
    SANDBOX_DAYS,
    SANDBOX_NOW,
    SANDBOX_PAYMENTS,
    SANDBOX_SEED,
    describe_world,
    sandbox_environment,
)
from sandbox.generate import SandboxConfig


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
            default=SANDBOX_NOW,
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


def _family_options(f):
    """The opt-in families of ledger events (shared by `sandbox` and `demo`)."""
    f = click.option(
        "--every-type",
        is_flag=True,
        help="Every balance-transaction type Mollie names occurs at least once "
        "(turns on --platform and Mollie Capital).",
    )(f)
    return click.option(
        "--platform",
        is_flag=True,
        help="The organization also runs a Mollie Connect platform (split payments, "
        "application fees, commissions, platform refunds and chargebacks).",
    )(f)


def _config(seed: int, payments: int, days: int, now: str, start: str | None, **families: bool):
    if payments < 1 or days < 1:
        raise click.BadParameter("--payments and --days must be at least 1")
    try:
        return SandboxConfig.from_cli(
            seed=seed, payments=payments, days=days, now=now, start=start, **families
        )
    except ValueError as exc:
        raise click.BadParameter(
            f"--now/--start must be ISO 8601 dates or instants: {exc}"
        ) from exc


@click.command()
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
@_family_options
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
    platform,
    every_type,
) -> None:
    """Serve a built-in Mollie API v2 (a synthetic organization) over HTTP.

    The data is generated deterministically from --seed and is internally consistent to the
    cent. Point mollie-ledger (MOLLIE_API_BASE_URL) or Mollie's own SDKs at the printed URL.
    """
    from sandbox.server import DEFAULT_ACCESS_TOKEN, FaultConfig, SandboxServer

    config = _config(seed, payments, days, now, start, platform=platform, every_type=every_type)
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


@click.command()
@_sandbox_options
@click.option(
    "--folder",
    default="data/demo",
    show_default=True,
    help="Where the demo keeps its warehouse, bank statements and exports.",
)
@_family_options
@sandbox_organizations_option("listed in <folder>/organizations.toml, and run each in turn")
def demo(seed, payments, days, now, start, folder, platform, every_type, organizations) -> None:
    """Run the whole pipeline once against the built-in Mollie sandbox and show the results.

    Uses its own folder, never your real warehouse, and ignores any MOLLIE_ACCESS_TOKEN.
    """
    # checked before anything starts
    config = _config(seed, payments, days, now, start, platform=platform, every_type=every_type)
    if organizations > 1:
        _demo_organizations(config, folder, organizations)
        return
    os.environ.update(
        {
            "MOLLIE_LEDGER_EXPORT_DIR": os.path.join(folder, "exports"),
            "MOLLIE_LEDGER_REPORT_DIR": os.path.join(folder, "report"),
            "MOLLIE_LEDGER_PUBLISHED_DB": os.path.join(folder, "mollie_ledger.published.duckdb"),
        }
    )
    log_to_stderr()
    click.echo(
        f"Demo: {describe_world(config)} (seed {seed}, ~{payments} payments over {days} "
        f"days up to {now}) served by the built-in Mollie sandbox; warehouse in {folder}/"
    )
    with sandbox_environment(os.path.join(folder, "bank"), config):
        run_and_report(os.path.join(folder, "mollie_ledger.duckdb"))
    from transforms.clearing import clearing_identity_line

    click.echo(clearing_identity_line(os.path.join(folder, "mollie_ledger.duckdb")))
    click.echo(
        f"Explore it: the tables are in {folder}/mollie_ledger.duckdb (schemas mollie, "
        f"staging, marts), a read-only copy for analysts in {folder}/mollie_ledger.published."
        "duckdb (`mollie-ledger query --published …`); `make ui` shows every asset."
    )


def _demo_organizations(config: SandboxConfig, folder: str, count: int) -> None:
    """The demo for a deployment of several organizations: one sandbox serves them all (one
    token each), each runs with its own files, and the summary is per organization."""
    from sandbox.demo import sandbox_organizations

    log_to_stderr()
    click.echo(
        f"Demo: {count} synthetic organizations (seeds {config.seed}…{config.seed + count - 1}) "
        f"served by one built-in Mollie sandbox, one token each; their files in {folder}/orgs/"
    )
    with sandbox_organizations(folder, count, config=config) as (_, orgs):
        click.echo(f"Organizations listed in {orgs.file} (MOLLIE_LEDGER_ORGANIZATIONS)")
        run_and_report(None)
