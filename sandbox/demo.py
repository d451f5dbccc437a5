"""The sandbox wired into the product's settings: what `mollie-ledger demo`, `mollie-ledger ui
--sandbox` (`make ui`) and the tests use to run everything against a synthetic organization.

The product itself knows nothing of the sandbox: it reads MOLLIE_API_BASE_URL,
MOLLIE_ACCESS_TOKEN and MOLLIE_LEDGER_BANK_DIR like it would for a real account. This module
starts a sandbox, writes the merchant's bank statement (CAMT.053) into the demo's own bank
folder, and points those settings at them for as long as the block runs; afterwards the
environment is as it was. `sandbox_organizations` does the same for several organizations at
once (MOLLIE_LEDGER_ORGANIZATIONS, one token variable and bank folder each).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from extract.organizations import ENV_ORGANIZATIONS
from extract.paths import ENV_BANK_DIR
from extract.settings import (
    DLT_SECRET_ACCESS_TOKEN,
    ENV_ACCESS_TOKEN,
    ENV_BASE_URL,
    ENV_RATE_PER_SECOND,
)
from sandbox.bank import write_camt053
from sandbox.generate import SandboxConfig
from sandbox.organizations import SandboxOrganizations, write_organizations
from sandbox.server import DEFAULT_ACCESS_TOKEN, SandboxServer
from transforms.config import ENV_PII_KEY, SANDBOX_PII_KEY

log = logging.getLogger("mollie_ledger.sandbox")

# The sandbox's default world; the same for `mollie-ledger sandbox`, `demo` and `ui --sandbox`.
SANDBOX_SEED = 7
SANDBOX_PAYMENTS = 5000
SANDBOX_DAYS = 120
SANDBOX_NOW = "2026-11-01T00:00:00Z"
ENV_SANDBOX_SEED = "MOLLIE_LEDGER_SANDBOX_SEED"
ENV_SANDBOX_PAYMENTS = "MOLLIE_LEDGER_SANDBOX_PAYMENTS"
ENV_SANDBOX_DAYS = "MOLLIE_LEDGER_SANDBOX_DAYS"
ENV_SANDBOX_NOW = "MOLLIE_LEDGER_SANDBOX_NOW"
ENV_SANDBOX_PLATFORM = "MOLLIE_LEDGER_SANDBOX_PLATFORM"  # "1": a Connect platform's world
ENV_SANDBOX_EVERY_TYPE = "MOLLIE_LEDGER_SANDBOX_EVERY_TYPE"  # "1": every balance type once


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


def sandbox_config(env: Mapping[str, str] | None = None) -> SandboxConfig:
    """The sandbox's world, from MOLLIE_LEDGER_SANDBOX_SEED / _PAYMENTS / _DAYS / _NOW (and
    _PLATFORM / _EVERY_TYPE set to 1 for the opt-in worlds)."""
    env = os.environ if env is None else env
    return SandboxConfig.from_cli(
        seed=_env_int(env, ENV_SANDBOX_SEED, SANDBOX_SEED),
        payments=_env_int(env, ENV_SANDBOX_PAYMENTS, SANDBOX_PAYMENTS),
        days=_env_int(env, ENV_SANDBOX_DAYS, SANDBOX_DAYS),
        now=(env.get(ENV_SANDBOX_NOW) or "").strip() or SANDBOX_NOW,
        platform=_env_int(env, ENV_SANDBOX_PLATFORM, 0, minimum=0) == 1,
        every_type=_env_int(env, ENV_SANDBOX_EVERY_TYPE, 0, minimum=0) == 1,
    )


def describe_world(config: SandboxConfig) -> str:
    """What the world holds, in a few words, for the demo's first line."""
    if config.every_type:
        return "a synthetic association with every balance-transaction type Mollie names"
    if config.platform:
        return "a synthetic association that also runs a Mollie Connect platform"
    return "a synthetic association"


@contextmanager
def sandbox_environment(
    bank_folder: str | os.PathLike[str],
    config: SandboxConfig | None = None,
    env: MutableMapping[str, str] | None = None,
    *,
    host: str = "127.0.0.1",
) -> Iterator[SandboxServer]:
    """Serve a sandbox and point the settings at it while the block runs.

    Args:
        bank_folder: the demo's own bank drop folder; the sandbox merchant's CAMT.053 statement
            is written there and MOLLIE_LEDGER_BANK_DIR points at it (never the real one).
        config: the world; default `sandbox_config(env)`.
        env: the environment to change (default `os.environ`); restored when the block ends.

    Sets MOLLIE_API_BASE_URL and MOLLIE_ACCESS_TOKEN to the sandbox's, drops the dlt secret,
    turns the request rate limit off unless MOLLIE_RATE_PER_SECOND says otherwise (it protects
    Mollie, not localhost) and uses the sandbox's PII key unless MOLLIE_LEDGER_PII_KEY is set
    (its people are invented).
    """
    env = os.environ if env is None else env
    config = sandbox_config(env) if config is None else config
    with SandboxServer(config, host=host) as server:
        written = write_camt053(server.world, bank_folder)
        settings = {
            ENV_BASE_URL: server.base_url,
            ENV_ACCESS_TOKEN: server.access_token,
            ENV_BANK_DIR: str(Path(bank_folder)),
        }
        with _pointed_at_sandbox(env, settings, drop=(DLT_SECRET_ACCESS_TOKEN,)):
            log.warning(
                "using the Mollie sandbox at %s (a synthetic organization); its bank statement: %s",
                server.base_url,
                ", ".join(str(p) for p in written) or "none",
            )
            yield server


@contextmanager
def sandbox_organizations(
    folder: str | os.PathLike[str],
    names: int | Sequence[str] = 3,
    env: MutableMapping[str, str] | None = None,
    *,
    config: SandboxConfig | None = None,
    host: str = "127.0.0.1",
) -> Iterator[tuple[SandboxServer, SandboxOrganizations]]:
    """Serve several sandbox organizations from one sandbox and point the settings at them
    while the block runs.

    Args:
        folder: where their files go (`write_organizations`): the organizations file, one
            ledger configuration each, and each one's folder `orgs/<name>` whose `bank`
            folder gets its CAMT.053 statement.
        names: how many organizations (groene-vork, blauwe-reiger, rode-kaart, …) or their names.
        env: the environment to change (default `os.environ`); restored when the block ends.
        config: the first organization's world; default `sandbox_config(env)`.

    Each organization's world is `config` (else `sandbox_config(env)`: the
    MOLLIE_LEDGER_SANDBOX_* settings apply) with its own seed, counting up from that seed
    (7, 8, 9, …), and its own access token. Sets MOLLIE_API_BASE_URL, each organization's
    token variable and MOLLIE_LEDGER_ORGANIZATIONS; removes MOLLIE_ACCESS_TOKEN, the dlt secret and
    MOLLIE_LEDGER_BANK_DIR, so no organization falls back to a shared token or bank folder;
    the rate limit and PII key as `sandbox_environment` sets them.
    """
    env = os.environ if env is None else env
    config = sandbox_config(env) if config is None else config
    orgs = write_organizations(folder, names, first_seed=config.seed)
    first, *more = orgs.organizations
    with SandboxServer(
        replace(config, seed=first.seed),
        host=host,
        access_token=first.token,
        more_worlds={o.token: replace(config, seed=o.seed) for o in more},
    ) as server:
        for o in orgs.organizations:
            write_camt053(server.worlds[o.token], o.bank_dir)
        settings = {ENV_BASE_URL: server.base_url, ENV_ORGANIZATIONS: str(orgs.file)}
        settings.update({o.token_env: o.token for o in orgs.organizations})
        drop = (ENV_ACCESS_TOKEN, DLT_SECRET_ACCESS_TOKEN, ENV_BANK_DIR)
        with _pointed_at_sandbox(env, settings, drop):
            log.warning(
                "using the Mollie sandbox at %s: %d synthetic organizations (%s), listed in %s",
                server.base_url,
                len(orgs.organizations),
                ", ".join(orgs.names),
                orgs.file,
            )
            yield server, orgs


@contextmanager
def _pointed_at_sandbox(
    env: MutableMapping[str, str], settings: Mapping[str, str], drop: Iterable[str]
) -> Iterator[None]:
    """Set `settings` and remove `drop` for the block; turn the request rate limit off unless
    MOLLIE_RATE_PER_SECOND says otherwise (it protects Mollie, not localhost) and use the
    sandbox's PII key unless MOLLIE_LEDGER_PII_KEY is set (its people are invented). Afterwards
    every one of these variables is as it was."""
    drop = tuple(drop)
    saved = {name: env.get(name) for name in (*settings, *drop, ENV_RATE_PER_SECOND, ENV_PII_KEY)}
    for name in drop:
        env.pop(name, None)
    env.update(settings)
    if not (env.get(ENV_RATE_PER_SECOND) or "").strip():
        env[ENV_RATE_PER_SECOND] = "0"
    if not (env.get(ENV_PII_KEY) or "").strip():
        env[ENV_PII_KEY] = SANDBOX_PII_KEY
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value


__all__ = [
    "DEFAULT_ACCESS_TOKEN",
    "SANDBOX_DAYS",
    "SANDBOX_NOW",
    "SANDBOX_PAYMENTS",
    "SANDBOX_SEED",
    "describe_world",
    "sandbox_config",
    "sandbox_environment",
    "sandbox_organizations",
]
