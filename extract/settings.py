"""Constants and configuration for the Mollie HTTP client.

Everything tunable about talking to Mollie lives here, so the client, the resilience layer and the
error messages agree on names (env vars, secrets) and numbers (page size, limits). The token is
read from the environment or the dlt secret only, never from code, and is kept out of every repr.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

DEFAULT_BASE_URL = "https://api.mollie.com/v2"
PAGE_SIZE = 250  # Mollie's maximum `limit` on every list endpoint (OpenAPI spec: `maximum: 250`)
USER_AGENT = "mollie-ledger/0.1"
MAX_CONNECTIONS = 8  # a few threads fetch settlement sub-lists; keep the pool bounded

ENV_BASE_URL = "MOLLIE_API_BASE_URL"
ENV_ACCESS_TOKEN = "MOLLIE_ACCESS_TOKEN"
DLT_SECRET_ACCESS_TOKEN = "SOURCES__MOLLIE__ACCESS_TOKEN"
ENV_TESTMODE = "MOLLIE_TESTMODE"
ENV_RATE_PER_SECOND = "MOLLIE_RATE_PER_SECOND"  # token-bucket rate; 0 turns the limiter off

# Token prefixes (Mollie's authentication docs). Profile API keys are fixed to one website profile
# and mode; organization access tokens and OAuth tokens share the `access_` prefix.
ORGANIZATION_TOKEN_PREFIX = "access_"
PROFILE_KEY_PREFIXES = ("test_", "live_")

# Endpoint groups that refuse profile API keys (the OpenAPI spec's per-operation `security`).
ORG_ONLY_PREFIXES = ("/balances", "/settlements", "/invoices", "/organizations")

# Scopes the organization access token needs for a full load (Mollie's permissions reference).
REQUIRED_SCOPES = (
    "balances.read",
    "balance-reports.read",
    "settlements.read",
    "invoices.read",
    "organizations.read",
    "profiles.read",
    "payments.read",
    "refunds.read",
    "customers.read",
    "subscriptions.read",
)

# Endpoints that do not list a `testmode` parameter in Mollie's OpenAPI spec; sending an unknown
# parameter risks a 422 "Non-existent parameter". Settlement chargebacks are the one settlement list
# that has it.
_TESTMODE_UNSUPPORTED_PREFIXES = ("/settlements", "/invoices")
_TESTMODE_UNSUPPORTED_EXACT = ("/balances/primary", "/organizations/me")
_TESTMODE_SUPPORTED_SUFFIX = "/chargebacks"

TokenKind = Literal["organization", "profile", "unknown"]


def token_kind(token: str) -> TokenKind:
    """Classify a Mollie credential by its prefix, without ever returning the token itself.

    Args:
        token: the credential.

    Returns:
        "organization" for `access_…`, "profile" for `test_…`/`live_…`, else "unknown".
    """
    if token.startswith(ORGANIZATION_TOKEN_PREFIX):
        return "organization"
    if token.startswith(PROFILE_KEY_PREFIXES):
        return "profile"
    return "unknown"


def token_prefix(token: str) -> str:
    """The safe-to-print prefix of a token (`access_`, `test_`, `live_`) or "" if unknown."""
    for prefix in (ORGANIZATION_TOKEN_PREFIX, *PROFILE_KEY_PREFIXES):
        if token.startswith(prefix):
            return prefix
    return ""


def is_org_only(path: str) -> bool:
    """Whether `path` (relative to the API base, e.g. "/balances/primary") refuses API keys."""
    return any(path == p or path.startswith(p + "/") for p in ORG_ONLY_PREFIXES)


def accepts_testmode(path: str) -> bool:
    """Whether the endpoint at `path` (relative to the API base) documents a `testmode` param."""
    if path in _TESTMODE_UNSUPPORTED_EXACT:
        return False
    if any(path == p or path.startswith(p + "/") for p in _TESTMODE_UNSUPPORTED_PREFIXES):
        return path.startswith("/settlements/") and path.endswith(_TESTMODE_SUPPORTED_SUFFIX)
    return True


def _env_bool(value: str | None, name: str) -> bool:
    if value is None or value.strip() == "":
        return False
    normalized = value.strip().lower()
    if normalized in ("1", "true", "yes", "on"):
        return True
    if normalized in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be true or false, got {value!r}")


def _env_rate(value: str, name: str) -> float:
    """A request rate from the environment: a non-negative number (a rate, not money)."""
    try:
        rate = float(value)
    except ValueError:
        raise ValueError(f"{name} must be a number of requests per second, got {value!r}") from None
    if not rate >= 0:  # also refuses NaN
        raise ValueError(f"{name} must be >= 0 (0 turns rate limiting off), got {value!r}")
    return rate


@dataclass(frozen=True)
class ClientSettings:
    """How to reach Mollie and how hard to try.

    Attributes:
        base_url: API root including `/v2`; the sandbox overrides it via MOLLIE_API_BASE_URL.
        token: the bearer credential; excluded from repr so it cannot leak into logs.
        timeout: seconds per request (connect, read, write, pool).
        max_retries: retries after the first attempt for retryable failures.
        rate_per_second: steady request rate of the token bucket; 0 disables the limiter.
        burst: token-bucket capacity (requests that may go out back to back).
        breaker_threshold: consecutive failed requests that open the circuit breaker.
        breaker_reset_seconds: how long the breaker stays open before one probe is allowed.
        testmode: ask for test data (`testmode=true`); only meaningful for `access_` tokens.
    """

    base_url: str = DEFAULT_BASE_URL
    token: str = field(default="", repr=False)
    timeout: float = 30.0
    max_retries: int = 5
    rate_per_second: float = 10.0
    burst: int = 10
    breaker_threshold: int = 5
    breaker_reset_seconds: float = 60.0
    testmode: bool = False

    def __post_init__(self) -> None:
        # Normalise once so URL joins and origin checks never depend on a trailing slash.
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"{ENV_BASE_URL} must be an http(s) URL, got {self.base_url!r}")
        if self.max_retries < 0 or self.burst < 1 or self.breaker_threshold < 1:
            raise ValueError("max_retries must be >= 0, burst and breaker_threshold >= 1")
        if self.timeout <= 0 or self.rate_per_second < 0 or self.breaker_reset_seconds < 0:
            raise ValueError("timeout must be > 0; rate_per_second, breaker_reset_seconds >= 0")

    @property
    def token_kind(self) -> TokenKind:
        """The kind of credential configured (see `token_kind`)."""
        return token_kind(self.token)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> ClientSettings:
        """Build settings from the environment.

        The token comes from MOLLIE_ACCESS_TOKEN, else the dlt secret
        SOURCES__MOLLIE__ACCESS_TOKEN; the base URL from MOLLIE_API_BASE_URL; testmode from
        MOLLIE_TESTMODE; the rate limit from MOLLIE_RATE_PER_SECOND. Keyword overrides win over
        the environment.

        Args:
            env: the mapping to read; defaults to `os.environ` (tests pass a dict).
            **overrides: any `ClientSettings` field.

        Returns:
            The settings.
        """
        env = os.environ if env is None else env
        values: dict[str, object] = {
            "base_url": env.get(ENV_BASE_URL) or DEFAULT_BASE_URL,
            "token": (env.get(ENV_ACCESS_TOKEN) or env.get(DLT_SECRET_ACCESS_TOKEN) or "").strip(),
            "testmode": _env_bool(env.get(ENV_TESTMODE), ENV_TESTMODE),
        }
        rate = (env.get(ENV_RATE_PER_SECOND) or "").strip()
        if rate:
            values["rate_per_second"] = _env_rate(rate, ENV_RATE_PER_SECOND)
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
