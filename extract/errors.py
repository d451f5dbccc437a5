"""Typed errors for the Mollie client, each message saying what to do about it.

Callers (dlt resources, Dagster assets, the CLI) branch on the class, people read the message. A 4xx
is never "no data": it becomes one of these and stops the load (docs/design.md, Principles 3 and 5).

Security: messages are built from Mollie's problem JSON, the request path and the token's
*prefix* only. `redact` scrubs the token from anything built here in case a server echoes it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from extract.settings import (
    DEFAULT_BASE_URL,
    DLT_SECRET_ACCESS_TOKEN,
    ENV_ACCESS_TOKEN,
    ENV_BASE_URL,
    ENV_TESTMODE,
    REQUIRED_SCOPES,
    is_org_only,
    token_kind,
    token_prefix,
)

_TOKEN_HELP = "create one under Dashboard → Developers → API access tokens"
_STATUS_PAGE = "https://status.mollie.com"


def redact(text: str, secret: str) -> str:
    """Replace every occurrence of `secret` in `text` (no-op when `secret` is empty)."""
    return text.replace(secret, "***") if secret else text


@dataclass(frozen=True)
class Problem:
    """Mollie's problem JSON (the OpenAPI spec's `error-response`), or the OAuth `{error,
    error_description}` form.

    Attributes:
        status: HTTP status Mollie put in the body, if any.
        title: reason phrase, e.g. "Unprocessable Entity".
        detail: human-readable explanation.
        field: the offending parameter, e.g. "from".
        documentation_url: `_links.documentation.href`.
    """

    status: int | None = None
    title: str | None = None
    detail: str | None = None
    field: str | None = None
    documentation_url: str | None = None

    @classmethod
    def from_body(cls, body: bytes | str | Mapping[str, object] | None) -> Problem | None:
        """Decode an error body; returns None when it is not JSON or not an error object."""
        data: object = body
        if isinstance(body, bytes | str):
            try:
                data = json.loads(body)
            except ValueError:
                return None
        if not isinstance(data, Mapping):
            return None
        if "error" in data and "status" not in data:  # OAuth token-endpoint style
            return cls(title=_str(data.get("error")), detail=_str(data.get("error_description")))
        if not any(k in data for k in ("status", "title", "detail")):
            return None
        status = data.get("status")
        links = data.get("_links")
        doc = links.get("documentation") if isinstance(links, Mapping) else None
        return cls(
            status=status if isinstance(status, int) else None,
            title=_str(data.get("title")),
            detail=_str(data.get("detail")),
            field=_str(data.get("field")),
            documentation_url=_str(doc.get("href")) if isinstance(doc, Mapping) else None,
        )

    def describe(self) -> str:
        """One line such as `Unprocessable Entity: Invalid cursor value (field: from)`."""
        text = ": ".join(p for p in (self.title, self.detail) if p) or "no details"
        return f"{text} (field: {self.field})" if self.field else text


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


class MollieError(Exception):
    """Base class of every error the Mollie client raises.

    Attributes:
        status: HTTP status, when there was a response.
        problem: decoded problem JSON, when Mollie sent one.
        request: "GET /path?query" relative to the API base (never contains the token).
        retry_after: seconds Mollie asked to wait (`Retry-After`), if any.
        retryable: whether the resilience layer may try the request again.
    """

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        problem: Problem | None = None,
        request: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.problem = problem
        self.request = request
        self.retry_after = retry_after

    @property
    def summary(self) -> str:
        """Short label for counters and the circuit breaker, e.g. `503 on GET /balances`."""
        what = str(self.status) if self.status else type(self).__name__
        return f"{what} on {self.request}" if self.request else what


class MollieAuthError(MollieError):
    """401: the token is missing, wrong, revoked or expired."""


class MolliePermissionError(MollieError):
    """403, or a profile API key used on an organization-only endpoint."""


class MollieNotFoundError(MollieError):
    """404: no object at that path (wrong id, or test/live mode mismatch)."""


class MollieBadRequestError(MollieError):
    """400/422: Mollie refused the parameters; a bug or a stale cursor, never "no data"."""


class MollieRateLimitError(MollieError):
    """429: too many requests; retried with backoff, honouring `Retry-After`."""

    retryable = True


class MollieServerError(MollieError):
    """5xx: Mollie failed; retried with backoff."""

    retryable = True


class MollieInvalidResponseError(MollieError):
    """The answer is not usable Mollie JSON (HTML, not an object, missing `_embedded`, cut off).

    Only a truncated body is retryable: an HTML page or a wrong shape will not fix itself.
    """

    def __init__(
        self, message: str, *, retryable: bool = False, reason: str = "", **kwargs: object
    ) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retryable = retryable
        self.reason = reason

    @property
    def summary(self) -> str:
        # What was wrong with the answer, not its status: "200 on GET /invoices" in a retry
        # line or the breaker's message would read as if Mollie had answered fine.
        if not self.reason:
            return super().summary
        return f"{self.reason} on {self.request}" if self.request else self.reason


class MollieConnectionError(MollieError):
    """No HTTP answer at all: connection refused or reset, DNS failure, timeout; retried."""

    retryable = True


class MollieCircuitOpenError(MollieError):
    """Too many consecutive failed requests: the run stops instead of hammering Mollie."""


def missing_token_error() -> MollieAuthError:
    """The error for "no token configured"."""
    return MollieAuthError(
        f"No Mollie token configured: set {ENV_ACCESS_TOKEN} (or the dlt secret "
        f"{DLT_SECRET_ACCESS_TOKEN}) to an organization access token (access_…); {_TOKEN_HELP}."
    )


def profile_key_error(
    token: str, request: str, *, status: int | None = None, problem: Problem | None = None
) -> MolliePermissionError:
    """The error for a profile API key (test_/live_) used on an organization-only endpoint.

    Raised before any request is sent when the path is known to be org-only, and for a 401/403
    on such a path, so the user gets the fix rather than a bare "Unauthorized".
    """
    prefix = token_prefix(token) or "test_"
    return MolliePermissionError(
        f"{ENV_ACCESS_TOKEN} is a profile API key ({prefix}…); balances, settlements, invoices "
        f"and organizations need an organization access token (access_…); {_TOKEN_HELP} "
        f"(refused request: {request}).",
        status=status,
        problem=problem,
        request=request,
    )


def connection_error(
    exc: Exception, *, request: str, base_url: str, token: str
) -> MollieConnectionError:
    """The error for a request that got no (complete) HTTP answer: refused, reset, timed out."""
    message = (
        f"Could not reach Mollie for {request} ({type(exc).__name__}: {exc}). It was retried "
        f"with backoff; check the network and that {ENV_BASE_URL} (now {base_url}) is right, "
        f"then re-run (loads are idempotent)."
    )
    return MollieConnectionError(redact(message, token), request=request)


def circuit_open_error(failures: int, last: str, reset_seconds: float) -> MollieCircuitOpenError:
    """The error that ends a run once the circuit breaker has opened."""
    return MollieCircuitOpenError(
        f"Stopped calling Mollie after {failures} consecutive failed requests (last: {last}). "
        f"The API looks unavailable, so the run ends here instead of hammering it; check "
        f"{_STATUS_PAGE} and re-run in {reset_seconds:g}s or later (loads are idempotent)."
    )


def invalid_response_error(
    reason: str,
    *,
    request: str,
    base_url: str,
    token: str,
    status: int | None = None,
    retryable: bool = False,
) -> MollieInvalidResponseError:
    """The error for an answer that is not usable Mollie JSON.

    Args:
        reason: what is wrong, e.g. "HTML instead of JSON".
        request: "GET /path" for the message.
        base_url: the configured API root, shown so a wrong MOLLIE_API_BASE_URL is obvious.
        token: scrubbed from the message.
        status: HTTP status of the answer.
        retryable: True for a truncated body (a retry may succeed).
    """
    message = f"Mollie's answer to {request} is unusable: {reason}. " + (
        "Retries ran out; re-run later (loads are idempotent, re-running is safe)."
        if retryable
        else f"Check that {ENV_BASE_URL} (now {base_url}) points at the Mollie API "
        f"({DEFAULT_BASE_URL}) and that no proxy or captive portal answers instead."
    )
    return MollieInvalidResponseError(
        redact(message, token),
        retryable=retryable,
        reason=redact(reason, token),
        status=status,
        request=request,
    )


def error_for_response(
    status: int,
    body: bytes,
    *,
    request: str,
    path: str,
    token: str,
    retry_after: float | None = None,
) -> MollieError:
    """Map an HTTP error response to its typed error with a message that says what to do.

    Args:
        status: HTTP status (>= 400).
        body: raw response body; decoded as problem JSON when possible.
        request: "GET /path?query" for the message.
        path: the path relative to the API base, to tell org-only endpoints apart.
        token: used for its prefix (profile key vs org token) and scrubbed from the message.
        retry_after: parsed `Retry-After`, kept on retryable errors.

    Returns:
        The error instance (the caller raises it).
    """
    problem = Problem.from_body(body)
    said = problem.describe() if problem else "no problem details in the body"
    kwargs: dict[str, object] = {"status": status, "problem": problem, "request": request}
    cls: type[MollieError]

    if status in (401, 403) and token_kind(token) == "profile" and is_org_only(path):
        return profile_key_error(token, request, status=status, problem=problem)
    if status == 401:
        cls = MollieAuthError
        message = (
            f"Mollie rejected the credential for {request} (401 {said}). Check "
            f"{ENV_ACCESS_TOKEN} (or the dlt secret {DLT_SECRET_ACCESS_TOKEN}): it must be a "
            f"valid, unrevoked organization access token (access_…); OAuth tokens expire after "
            f"an hour; {_TOKEN_HELP}."
        )
    elif status == 403:
        cls = MolliePermissionError
        message = (
            f"Mollie refused {request} (403 {said}). The token is valid but not allowed here: "
            f"give the organization access token the scopes {' '.join(REQUIRED_SCOPES)} and "
            f"make sure it is not limited to another profile; {_TOKEN_HELP}."
        )
    elif status == 404:
        cls = MollieNotFoundError
        message = (
            f"Mollie has nothing at {request} (404 {said}). Check the id in the path; with an "
            f"organization token, test-mode objects are only visible with {ENV_TESTMODE}=true "
            f"and live ones only without it."
        )
    elif status in (400, 422):
        cls = MollieBadRequestError
        field_hint = f" `{problem.field}`" if problem and problem.field else ""
        message = (
            f"Mollie refused the parameters of {request} ({status} {said}). This is a bug in "
            f"the request, not missing data: fix the parameter{field_hint}; if a `from` cursor "
            f"is invalid, run a full refresh."
        )
    elif status == 429:
        cls = MollieRateLimitError
        kwargs["retry_after"] = retry_after
        message = (
            f"Mollie rate-limited {request} (429 {said}). The client retries with backoff and "
            f"honours Retry-After; if this reaches you, retries ran out: lower rate_per_second "
            f"or re-run later."
        )
    elif status >= 500:
        cls = MollieServerError
        kwargs["retry_after"] = retry_after
        message = (
            f"Mollie failed on {request} ({status} {said}). The problem is on Mollie's side and "
            f"was retried with backoff; check {_STATUS_PAGE} and re-run later (loads are "
            f"idempotent, re-running is safe)."
        )
    else:
        cls = MollieError
        message = (
            f"Mollie answered {request} with an unexpected {status} ({said}); nothing was "
            f"loaded from it. Re-run; if it persists, report it with this message."
        )
    return cls(redact(message, token), **kwargs)  # type: ignore[arg-type]
