"""Ledger settings: accounts, company, cost centre, tolerances, and the PII key.

Read from a TOML file (`MOLLIE_LEDGER_CONFIG`, default `config/ledger.toml`) over built-in
defaults identical to that file, so a fresh clone works with nothing set. The PII key is a secret:
it comes only from the environment (`MOLLIE_LEDGER_PII_KEY`) and is never written anywhere.
"""

from __future__ import annotations

import csv
import os
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

ENV_CONFIG = "MOLLIE_LEDGER_CONFIG"
ENV_PII_KEY = "MOLLIE_LEDGER_PII_KEY"
DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config" / "ledger.toml"
# Used only against the built-in sandbox, whose PII is invented; a real token requires a key.
SANDBOX_PII_KEY = "mollie-ledger-sandbox-demo-key"

ACCOUNT_ROLES_SEED = Path(__file__).resolve().parent / "seeds" / "account_roles.csv"
# Parties ERPNext accepts on a Receivable (Customer) or Payable (Supplier) account row.
PARTY_TYPES = ("Customer", "Supplier")


def _account_roles() -> tuple[str, ...]:
    """The roles [books.accounts] must name: the seed's, except `clearing` (per currency)."""
    with ACCOUNT_ROLES_SEED.open(encoding="utf-8", newline="") as handle:
        return tuple(row["role"] for row in csv.DictReader(handle) if row["role"] != "clearing")


ACCOUNT_ROLES = _account_roles()
CHECKS = (
    "ledger_row_arithmetic",
    "payout_transfer_amount",
    "settlement_ledger_net",
    "settlement_periods_total",
    "balance_report_arithmetic",
    "balance_report_vs_ledger",
    "fee_invoice",
    "bank_deposit_amount",
    "rounding",
)


class ConfigError(ValueError):
    """The ledger configuration is unusable; the message says what to fix."""


@dataclass(frozen=True)
class LedgerConfig:
    company: str
    cost_center: str
    clearing_accounts: dict[str, str]
    accounts: dict[str, str]
    tolerances: dict[str, Decimal]
    vat_registered: bool = True
    parties: dict[str, tuple[str, str]] = field(default_factory=dict)  # role → (type, party)
    match_window_business_days: int = 3
    forecast_horizon_days: int = 14
    pii_key: str = field(default="", repr=False)
    source: str = "defaults"

    @classmethod
    def load(
        cls, path: str | os.PathLike[str] | None = None, env: dict[str, str] | None = None
    ) -> LedgerConfig:
        """Load the file (explicit path, else MOLLIE_LEDGER_CONFIG, else config/ledger.toml)."""
        env = dict(os.environ if env is None else env)
        chosen = Path(path or env.get(ENV_CONFIG) or DEFAULT_CONFIG)
        try:
            data = tomllib.loads(chosen.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"ledger config {chosen} does not exist ({ENV_CONFIG})") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"ledger config {chosen} is not valid TOML: {exc}") from exc
        base = tomllib.loads(DEFAULT_CONFIG.read_text(encoding="utf-8"))
        merged = _merge(base, data)
        books = merged["books"]
        vat_registered = books.get("vat_registered", True)
        if not isinstance(vat_registered, bool):
            raise ConfigError(f"{chosen}: [books] vat_registered must be true or false")
        # Without a VAT registration there is no input VAT to reclaim: no account is needed.
        needed = [r for r in ACCOUNT_ROLES if vat_registered or r != "input_vat"]
        missing = [r for r in needed if not books["accounts"].get(r)]
        if missing:
            raise ConfigError(f"{chosen}: [books.accounts] needs {', '.join(missing)}")
        if not str(books.get("cost_center", "")).strip():
            # ERPNext fills a missing cost centre from the company but refuses an empty one.
            raise ConfigError(f"{chosen}: [books] cost_center must name an ERPNext Cost Center")
        parties = _parties(chosen, books.get("parties", {}))
        tolerances = {}
        for check in CHECKS:
            raw = str(merged["tolerances"].get(check, "0"))
            try:
                value = Decimal(raw)
            except InvalidOperation as exc:
                raise ConfigError(f"{chosen}: tolerance {check} = {raw!r} is not a number") from exc
            if value < 0:
                raise ConfigError(f"{chosen}: tolerance {check} must not be negative")
            tolerances[check] = value
        return cls(
            company=books["company"],
            cost_center=books["cost_center"],
            clearing_accounts=dict(books["clearing_accounts"]),
            accounts={r: a for r, a in books["accounts"].items() if a},
            tolerances=tolerances,
            vat_registered=vat_registered,
            parties=parties,
            match_window_business_days=int(merged["bank"]["match_window_business_days"]),
            forecast_horizon_days=int(merged["forecast"]["horizon_days"]),
            pii_key=env.get(ENV_PII_KEY, ""),
            source=str(chosen),
        )

    def require_pii_key(self, using_sandbox: bool) -> str:
        """The key for pseudonymising PII; the demo key is allowed only against the sandbox."""
        return require_pii_key(self.pii_key, using_sandbox)


def require_pii_key(pii_key: str, using_sandbox: bool) -> str:
    """`pii_key` (MOLLIE_LEDGER_PII_KEY) if set, else the demo key, which only the sandbox's
    invented customers may be pseudonymised with."""
    if pii_key:
        return pii_key
    if using_sandbox:
        return SANDBOX_PII_KEY
    raise ConfigError(
        f"{ENV_PII_KEY} is not set: customer names, emails and IBANs are pseudonymised with a "
        "keyed hash and the key must come from the environment (e.g. `openssl rand -hex 32`); "
        "keep it stable, or pseudonyms change between runs."
    )


def _parties(chosen: Path, raw: Any) -> dict[str, tuple[str, str]]:
    """[books.parties]: role = { party_type = "Customer", party = "…" }, checked here so that
    what the configuration offers is what ERPNext accepts."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{chosen}: [books.parties] must be a table of role = {{...}}")
    parties = {}
    for role, spec in raw.items():
        where = f"{chosen}: [books.parties] {role}"
        if role not in ACCOUNT_ROLES:
            raise ConfigError(f"{where}: not an account role ({', '.join(ACCOUNT_ROLES)})")
        if not isinstance(spec, dict):
            raise ConfigError(f'{where} must be {{ party_type = "Customer", party = "…" }}')
        party_type = spec.get("party_type", "Customer")
        party = str(spec.get("party", "")).strip()
        if party_type not in PARTY_TYPES:
            raise ConfigError(f"{where}: party_type must be one of {', '.join(PARTY_TYPES)}")
        if not party:
            raise ConfigError(f"{where}: party must name the {party_type} in ERPNext")
        parties[role] = (party_type, party)
    return parties


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        out[key] = (
            _merge(base[key], value)
            if isinstance(value, dict) and isinstance(base.get(key), dict)
            else value
        )
    return out
