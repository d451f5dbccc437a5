"""Which Mollie the pipeline talks to: the one the settings name, and nothing else.

A token (`MOLLIE_ACCESS_TOKEN` or the dlt secret) is required: without one every entry point
(the CLI's `run` and `extract`, a Dagster run) stops before any work and says what to set. The
built-in sandbox is a development and demo tool: `mollie-ledger demo`, `mollie-ledger ui
--sandbox` (`make ui`) and the tests start it and point these same settings at it
(sandbox.demo); the product never starts it itself.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from extract.settings import DLT_SECRET_ACCESS_TOKEN, ENV_ACCESS_TOKEN, ClientSettings

NO_TOKEN = (
    f"no Mollie token: set {ENV_ACCESS_TOKEN} to an organization access token (access_…, "
    "Dashboard → Developers → API access tokens), or run against the built-in sandbox with "
    "`mollie-ledger demo` (one run) or `make ui` / `mollie-ledger ui --sandbox` (the Dagster UI)"
)


class MissingTokenError(ValueError):
    """No Mollie token is configured; the message says what to set."""


def has_token(env: Mapping[str, str] | None = None) -> bool:
    """Whether a Mollie token is configured (the environment variable or the dlt secret)."""
    env = os.environ if env is None else env
    return any(
        (env.get(name) or "").strip() for name in (ENV_ACCESS_TOKEN, DLT_SECRET_ACCESS_TOKEN)
    )


def mollie_settings(env: Mapping[str, str] | None = None) -> ClientSettings:
    """Settings for the Mollie API from the environment (default `os.environ`).

    Raises:
        MissingTokenError: no token is configured.
        ValueError: MOLLIE_RATE_PER_SECOND or another setting is malformed.
    """
    env = os.environ if env is None else env
    if not has_token(env):
        raise MissingTokenError(NO_TOKEN)
    return ClientSettings.from_env(env)
