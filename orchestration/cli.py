"""`mollie-ledger`: the command line. Each command's --help is its manual."""

from __future__ import annotations

import signal
import sys
import threading

import click

DEFAULT_NOW = "2026-11-01T00:00:00Z"


def _sandbox_options(f):
    """The options that describe a sandbox world (shared by `sandbox` and `demo`)."""
    options = [
        click.option("--seed", default=7, show_default=True, help="Random seed of the world."),
        click.option(
            "--payments",
            default=5000,
            show_default=True,
            help="About how many payments over --days.",
        ),
        click.option("--days", default=120, show_default=True, help="Days of history."),
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
@_sandbox_options
def demo(seed, payments, days, now, start) -> None:
    """Run the whole pipeline once against an in-process Mollie sandbox and show the results."""
    from sandbox.server import DEFAULT_ACCESS_TOKEN, SandboxServer

    config = _config(seed, payments, days, now, start)
    with SandboxServer(config) as server:
        import httpx

        click.echo(f"Mollie sandbox running at {server.base_url}")
        headers = {"Authorization": f"Bearer {DEFAULT_ACCESS_TOKEN}"}
        with httpx.Client(base_url=server.base_url, headers=headers) as http:
            org = http.get("/organizations/me").json()
            click.echo(f"Organization: {org['name']} ({org['id']})")
            for b in http.get("/balances").json()["_embedded"]["balances"]:
                click.echo(
                    f"  balance {b['id']} {b['currency']}: available "
                    f"{b['availableAmount']['value']}, pending {b['pendingAmount']['value']}"
                    f", payouts {b['transferFrequency']}"
                )
        world = server.world
        rows = [
            ("payments", len(world.payments)),
            ("refunds", len(world.refunds)),
            ("chargebacks", len(world.chargebacks)),
            ("captures", len(world.captures)),
            ("customers", len(world.customers)),
            ("subscriptions", len(world.subscriptions)),
            ("balance transactions", len(world.transactions)),
            ("settlements", len(world.settlements)),
            ("invoices", len(world.invoices)),
        ]
        click.echo("The sandbox serves:")
        for name, n in rows:
            click.echo(f"  {name:<22}{n:>8}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
