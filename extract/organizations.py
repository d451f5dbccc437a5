"""Which Mollie organizations one deployment serves, and where each keeps its data.

An association federation, an accountancy firm or a Mollie Connect platform keeps the books of
many organizations, each with its own Mollie token, ERPNext company and bank statements. Each
organization gets its own folder, and in it its own warehouse, publication, exports, report and
bank drop folder, so no organization's rows can reach another's files. The list comes from a
TOML file (`MOLLIE_LEDGER_ORGANIZATIONS`, see config/organizations.example.toml):

    [organizations.groene-vork]
    token_env = "MOLLIE_TOKEN_GROENE_VORK"   # the variable holding its access token
    ledger_config = "config/groene-vork.toml"  # accounts, ERPNext company, tolerances

    [organizations.blauwe-reiger]
    token_env = "MOLLIE_TOKEN_BLAUWE_REIGER"
    ledger_config = "config/blauwe-reiger.toml"
    folder = "/srv/books/blauwe-reiger"        # optional: default <data>/orgs/<name>
    bank_dir = "/srv/bank/blauwe-reiger"       # optional: default <folder>/bank

With no file configured there is one organization, `default`, which is today's setup: nothing
changes for it. This module only reads and checks the list; running one organization's pipeline
with its settings is the orchestration's job (orchestration/organizations.py).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ENV_ORGANIZATIONS = "MOLLIE_LEDGER_ORGANIZATIONS"
DEFAULT_NAME = "default"
DEFAULT_DATA_DIR = Path("data")
# A name is a folder name and a Dagster partition key: keep it to what is safe for both.
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_KEYS = {"token_env", "ledger_config", "folder", "bank_dir"}


class OrganizationsError(ValueError):
    """The organizations file cannot be used; the message names the file and the entry."""


@dataclass(frozen=True)
class Organization:
    """One organization. For the default one every field is None: it reads today's settings
    (MOLLIE_ACCESS_TOKEN, MOLLIE_LEDGER_DB, MOLLIE_LEDGER_CONFIG, … ) exactly as before."""

    name: str
    token_env: str | None = None  # the variable holding its access token
    ledger_config: Path | None = None  # accounts, ERPNext company, tolerances
    folder: Path | None = None  # its warehouse, publication, exports and report
    bank_dir: Path | None = None

    @property
    def is_default(self) -> bool:
        return self.folder is None

    @property
    def warehouse(self) -> Path | None:
        return self.folder / "mollie_ledger.duckdb" if self.folder else None

    @property
    def published(self) -> Path | None:
        return self.folder / "mollie_ledger.published.duckdb" if self.folder else None

    @property
    def export_dir(self) -> Path | None:
        return self.folder / "exports" if self.folder else None

    @property
    def report_dir(self) -> Path | None:
        return self.folder / "report" if self.folder else None

    def token(self, env: Mapping[str, str] = os.environ) -> str | None:
        """Its access token from its own variable (never logged), or None when unset."""
        if self.token_env is None:
            return None
        return (env.get(self.token_env) or "").strip() or None


def load_organizations(
    env: Mapping[str, str] = os.environ, data_dir: Path = DEFAULT_DATA_DIR
) -> list[Organization]:
    """The configured organizations in file order, or the single default one."""
    configured = (env.get(ENV_ORGANIZATIONS) or "").strip()
    if not configured:
        return [Organization(name=DEFAULT_NAME)]
    return read_organizations(Path(configured), data_dir)


def read_organizations(path: Path, data_dir: Path = DEFAULT_DATA_DIR) -> list[Organization]:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise OrganizationsError(f"{ENV_ORGANIZATIONS}={path}: no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise OrganizationsError(f"{path} is not valid TOML: {exc}") from None
    entries = raw.get("organizations")
    if not isinstance(entries, dict) or not entries:
        raise OrganizationsError(f"{path} lists no [organizations.<name>] table")
    base = path.parent
    organizations = [_organization(path, base, data_dir, name, e) for name, e in entries.items()]
    _check_apart(path, organizations)
    return organizations


def missing_tokens(
    organizations: list[Organization], env: Mapping[str, str] = os.environ
) -> list[str]:
    """`name (VARIABLE)` for each configured organization whose token variable is unset, so a
    run can say all of them at once before any network work."""
    return [
        f"{o.name} ({o.token_env})"
        for o in organizations
        if o.token_env is not None and o.token(env) is None
    ]


def _organization(path: Path, base: Path, data_dir: Path, name: str, entry: object) -> Organization:
    where = f"{path} [organizations.{name}]"
    if not _NAME.match(name):
        raise OrganizationsError(
            f"{where}: a name is 1-63 lowercase letters, digits, '-' or '_' (it names a folder "
            "and a Dagster partition)"
        )
    if not isinstance(entry, dict):
        raise OrganizationsError(f"{where} must be a table")
    unknown = sorted(set(entry) - _KEYS)
    if unknown:
        raise OrganizationsError(f"{where}: unknown key(s) {unknown}; known: {sorted(_KEYS)}")
    token_env = entry.get("token_env")
    if not isinstance(token_env, str) or not _ENV_NAME.match(token_env):
        raise OrganizationsError(
            f"{where}: token_env must name the environment variable holding its Mollie token "
            "(e.g. MOLLIE_TOKEN_" + name.upper().replace("-", "_") + "), not the token itself"
        )
    ledger_config = entry.get("ledger_config")
    if not isinstance(ledger_config, str) or not ledger_config:
        raise OrganizationsError(
            f"{where}: ledger_config must name its ledger file (accounts, ERPNext company)"
        )
    folder = _path(base, entry.get("folder")) or data_dir / "orgs" / name
    return Organization(
        name=name,
        token_env=token_env,
        ledger_config=_path(base, ledger_config),
        folder=folder,
        bank_dir=_path(base, entry.get("bank_dir")) or folder / "bank",
    )


def _path(base: Path, value: object) -> Path | None:
    """A path from the file, relative to the file's own folder."""
    if value is None:
        return None
    path = Path(str(value))
    return path if path.is_absolute() else base / path


def _check_apart(path: Path, organizations: list[Organization]) -> None:
    """No two organizations share a token variable or a folder (one would see the other's rows)."""
    seen: dict[object, str] = {}
    for o in organizations:
        assert o.folder is not None and o.bank_dir is not None  # configured ones have both
        owned = [
            ("token_env", o.token_env),
            ("folder", o.folder.resolve()),
            ("bank_dir", o.bank_dir.resolve()),
        ]
        for what, value in owned:
            other = seen.setdefault((what if what == "token_env" else "path", value), o.name)
            if other != o.name:
                raise OrganizationsError(
                    f"{path}: {o.name} and {other} share {what} {value}: each organization "
                    "needs its own, or one would read the other's data"
                )
