"""Check every setting a run will need before it does anything, and say at once all that is wrong.

A missing PII key, half a set of Frappe credentials or an unreadable accounts file would otherwise
surface one step at a time, after the whole extract had run (and once per model that needs the
key). `problems()` reads each setting the way the stage that uses it reads it and collects every
refusal; `check()` raises them together. The command line calls it before `run` and `extract`, the
Dagster job at the start of every run.

It lives in export/, the lowest stage that can see every stage's settings (extract's Mollie token
and warehouse settings, transforms' ledger configuration and PII key, export's Frappe site) while
importing only downward. It reads; it creates, connects to and sends nothing.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping

from export.settings import ExportConfigError, FrappeSettings, company_currency
from extract.endpoint import NO_TOKEN, has_token
from extract.paths import DEFAULT_DB, ENV_DB
from extract.settings import ClientSettings
from extract.warehouse_lock import unwritable
from transforms.config import ENV_PII_KEY, ConfigError, LedgerConfig, require_pii_key

EXTRACT = "extract"
TRANSFORM = "transform"
EXPORT = "export"
EVERY_STAGE = (EXTRACT, TRANSFORM, EXPORT)


class SettingsError(ValueError):
    """One or more settings are unusable; `problems` has one actionable message per setting."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            "the configuration is incomplete:\n" + "\n".join(f"  - {p}" for p in problems)
        )


def problems(
    stages: Collection[str] = EVERY_STAGE,
    *,
    db_path: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> list[str]:
    """Every problem with the settings `stages` need, one message each (empty: all usable).

    Args:
        stages: which of EXTRACT, TRANSFORM, EXPORT will run.
        db_path: the warehouse given on the command line, else MOLLIE_LEDGER_DB.
        env: the environment to read (default `os.environ`; tests pass a dict).
    """
    env = os.environ if env is None else env
    found: list[str] = []
    db = db_path or env.get(ENV_DB) or DEFAULT_DB
    if (problem := unwritable(db)) is not None:
        found.append(str(problem))
    token = has_token(env)
    if EXTRACT in stages:  # only reading Mollie needs a token; rebuilding the marts does not
        if not token:
            found.append(NO_TOKEN)
        try:
            ClientSettings.from_env(env)
        except ValueError as exc:  # a malformed MOLLIE_TESTMODE or MOLLIE_RATE_PER_SECOND
            found.append(str(exc))
    if TRANSFORM in stages or EXPORT in stages:
        # Without a token nothing runs (named above); the PII key is then not the problem.
        found += _ledger_problems(env, using_sandbox=not token)
    if EXPORT in stages:
        try:
            FrappeSettings.from_env(env)
            company_currency(env=env)
        except ExportConfigError as exc:
            found.append(str(exc))
    return found


def check(
    stages: Collection[str] = EVERY_STAGE,
    *,
    db_path: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> None:
    """Raise SettingsError naming every unusable setting `stages` need; return if all are usable."""
    found = problems(stages, db_path=db_path, env=env)
    if found:
        raise SettingsError(found)


def _ledger_problems(env: Mapping[str, str], *, using_sandbox: bool) -> list[str]:
    """The accounts file (readable, valid, every account role set) and the PII key, which the
    built-in sandbox may do without but a real Mollie token may not."""
    found = []
    try:
        LedgerConfig.load(env=dict(env))
    except ConfigError as exc:
        found.append(str(exc))
    try:
        require_pii_key(env.get(ENV_PII_KEY, ""), using_sandbox=using_sandbox)
    except ConfigError as exc:
        found.append(str(exc))
    return found
