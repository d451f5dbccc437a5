"""Which Mollie the pipeline talks to: the real API when a token is configured, else the sandbox.

The project runs with nothing configured (docs/design.md, Principles 7). Without
`MOLLIE_ACCESS_TOKEN` (or the dlt secret) every entry point (CLI, Dagster assets) gets an in-process
sandbox serving a synthetic organization, so a fresh clone demonstrates everything; with a token,
nothing here changes what `ClientSettings.from_env` reads.

This module imports only settings at the top so the CLI's `--help` stays fast; the sandbox (which
generates its world on start) is imported when it is needed.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from extract.settings import (
    DLT_SECRET_ACCESS_TOKEN,
    ENV_ACCESS_TOKEN,
    ENV_RATE_PER_SECOND,
    ClientSettings,
)

log = logging.getLogger("mollie_ledger.endpoint")

# The built-in sandbox's world; the same defaults as `mollie-ledger sandbox`.
SANDBOX_SEED = 7
SANDBOX_PAYMENTS = 5000
SANDBOX_DAYS = 120
SANDBOX_NOW = "2026-11-01T00:00:00Z"
ENV_SANDBOX_SEED = "MOLLIE_LEDGER_SANDBOX_SEED"
ENV_SANDBOX_PAYMENTS = "MOLLIE_LEDGER_SANDBOX_PAYMENTS"
ENV_SANDBOX_DAYS = "MOLLIE_LEDGER_SANDBOX_DAYS"
ENV_SANDBOX_NOW = "MOLLIE_LEDGER_SANDBOX_NOW"


def has_token(env: Mapping[str, str] | None = None) -> bool:
    """Whether a Mollie token is configured (the environment variable or the dlt secret)."""
    env = os.environ if env is None else env
    return any(
        (env.get(name) or "").strip() for name in (ENV_ACCESS_TOKEN, DLT_SECRET_ACCESS_TOKEN)
    )


def _env_int(env: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


def sandbox_config(env: Mapping[str, str] | None = None):
    """The built-in sandbox's world, from MOLLIE_LEDGER_SANDBOX_SEED / _PAYMENTS / _DAYS / _NOW."""
    from sandbox.generate import SandboxConfig

    env = os.environ if env is None else env
    return SandboxConfig.from_cli(
        seed=_env_int(env, ENV_SANDBOX_SEED, SANDBOX_SEED),
        payments=_env_int(env, ENV_SANDBOX_PAYMENTS, SANDBOX_PAYMENTS),
        days=_env_int(env, ENV_SANDBOX_DAYS, SANDBOX_DAYS),
        now=(env.get(ENV_SANDBOX_NOW) or "").strip() or SANDBOX_NOW,
    )


@contextmanager
def mollie_settings(env: Mapping[str, str] | None = None) -> Iterator[ClientSettings]:
    """Settings for the Mollie API, or for a sandbox started for the duration of the block.

    Args:
        env: the environment to read (default `os.environ`; tests pass a dict).

    Yields:
        `ClientSettings.from_env()` when a token is configured; otherwise settings pointing at
        an in-process sandbox (world from MOLLIE_LEDGER_SANDBOX_SEED / _PAYMENTS / _DAYS /
        _NOW), which is stopped when the block ends. A local sandbox is not rate-limited unless
        MOLLIE_RATE_PER_SECOND says so: the token bucket protects Mollie, not localhost.

    Raises:
        ValueError: a sandbox variable or MOLLIE_RATE_PER_SECOND is malformed.
    """
    env = os.environ if env is None else env
    if has_token(env):
        yield ClientSettings.from_env(env)
        return

    from sandbox.server import DEFAULT_ACCESS_TOKEN, SandboxServer

    config = sandbox_config(env)
    overrides: dict[str, object] = {"token": DEFAULT_ACCESS_TOKEN}
    if not (env.get(ENV_RATE_PER_SECOND) or "").strip():
        overrides["rate_per_second"] = 0
    with SandboxServer(config) as server:
        log.warning(
            "no %s: using the built-in sandbox at %s (a synthetic organization; set %s to an "
            "organization access token to load your own Mollie data)",
            ENV_ACCESS_TOKEN,
            server.base_url,
            ENV_ACCESS_TOKEN,
        )
        yield ClientSettings.from_env(env, base_url=server.base_url, **overrides)
