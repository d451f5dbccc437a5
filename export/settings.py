"""Where exports go and which Frappe site they post to, from the environment.

The API secret is a credential: it lives only in `FrappeSettings.api_secret` (hidden from
`repr`) and in the Authorization header the client builds from it; no message names its value.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from transforms.config import DEFAULT_CONFIG, ENV_CONFIG

ENV_EXPORT_DIR = "MOLLIE_LEDGER_EXPORT_DIR"
ENV_FRAPPE_URL = "FRAPPE_URL"
ENV_FRAPPE_API_KEY = "FRAPPE_API_KEY"
ENV_FRAPPE_API_SECRET = "FRAPPE_API_SECRET"
DEFAULT_EXPORT_DIR = "data/exports"  # relative to the working directory, like the warehouse
# The ERPNext company's currency. Entries in another currency need exchange rates, which the
# exporter does not send yet, so they wait in review (see export/README.md).
DEFAULT_COMPANY_CURRENCY = "EUR"


class ExportConfigError(ValueError):
    """The export configuration is unusable; the message names the variable to fix."""


@dataclass(frozen=True)
class FrappeSettings:
    url: str
    api_key: str
    api_secret: str = field(repr=False)
    timeout: float = 30.0
    # Retries of 429 / 5xx / connection errors: attempts in all, exponential backoff with
    # jitter between them, never shorter than the server's Retry-After, never longer than
    # `max_wait` (a Retry-After of an hour would stall a daily run; it fails and reruns instead).
    attempts: int = 5
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    max_wait: float = 120.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> FrappeSettings | None:
        """The site to post to, or None when FRAPPE_URL is not set (posting is then skipped)."""
        env = os.environ if env is None else env
        url = (env.get(ENV_FRAPPE_URL) or "").strip().rstrip("/")
        if not url:
            return None
        if not url.startswith(("http://", "https://")):
            raise ExportConfigError(
                f"{ENV_FRAPPE_URL} must be the site's base URL, e.g. https://erp.example.org"
            )
        key = (env.get(ENV_FRAPPE_API_KEY) or "").strip()
        secret = (env.get(ENV_FRAPPE_API_SECRET) or "").strip()
        missing = [
            n for n, v in ((ENV_FRAPPE_API_KEY, key), (ENV_FRAPPE_API_SECRET, secret)) if not v
        ]
        if missing:
            raise ExportConfigError(
                f"{ENV_FRAPPE_URL} is set but {' and '.join(missing)} is not: generate an API key "
                "and secret on the posting user in Frappe (User → Settings → API Access → "
                "Generate Keys) and put them in the environment"
            )
        return cls(url=url, api_key=key, api_secret=secret)


@dataclass(frozen=True)
class ExportSettings:
    export_dir: Path
    company_currency: str = DEFAULT_COMPANY_CURRENCY
    frappe: FrappeSettings | None = None

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        ledger_config: str | os.PathLike[str] | None = None,
    ) -> ExportSettings:
        env = os.environ if env is None else env
        export_dir = Path(env.get(ENV_EXPORT_DIR) or DEFAULT_EXPORT_DIR)
        return cls(
            export_dir=export_dir,
            company_currency=company_currency(ledger_config, env),
            frappe=FrappeSettings.from_env(env),
        )


def company_currency(
    path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> str:
    """`[books] company_currency` of the ledger configuration file, default EUR.

    Read here rather than in transforms.config because only the exporter needs it; the file is
    the same one (MOLLIE_LEDGER_CONFIG, else config/ledger.toml).
    """
    env = os.environ if env is None else env
    chosen = Path(path or env.get(ENV_CONFIG) or DEFAULT_CONFIG)
    try:
        books = tomllib.loads(chosen.read_text(encoding="utf-8")).get("books", {})
    except (FileNotFoundError, tomllib.TOMLDecodeError):
        # transforms.config reports an unreadable file with the fix. The default is safe: before
        # posting, the exporter compares it with the company's currency in Frappe.
        return DEFAULT_COMPANY_CURRENCY
    value = str(books.get("company_currency") or DEFAULT_COMPANY_CURRENCY).strip().upper()
    if len(value) != 3 or not value.isalpha():
        raise ExportConfigError(f"{chosen}: [books] company_currency must be an ISO 4217 code")
    return value
