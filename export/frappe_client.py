"""A small httpx client for Frappe's v1 REST API (frappe/api/v1.py).

It knows the transport and Frappe's error envelope, nothing about Mollie: auth with
`Authorization: token <key>:<secret>`, `GET`/`POST /api/resource/<DocType>`, and every error
answer decoded into one of these types:

- FrappeAuthError (401, 403, malformed auth): a configuration problem; the message names the
  environment variables and the permissions to grant, never the secret;
- FrappeDuplicateError (UniqueValidationError 417, DuplicateEntryError 409): the unique key is
  taken, which for a posting key means "already posted" (the caller looks the name up);
- FrappeValidationError (other 417s): a business error, Frappe's message decoded;
- FrappeTransientError (429, 5xx, connection errors, an unreadable answer): worth retrying.

Reads are retried here with tenacity (backoff with jitter, at least the server's Retry-After).
Inserts are NOT retried here: a POST whose answer was lost may have been committed, so a blind
second POST could post twice. posting.py retries inserts, looking the entry up in between.
"""

from __future__ import annotations

import html
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_exponential_jitter

from export.settings import ENV_FRAPPE_API_KEY, ENV_FRAPPE_API_SECRET, FrappeSettings

log = logging.getLogger("mollie_ledger.export.frappe")

_DUPLICATE_TYPES = ("UniqueValidationError", "DuplicateEntryError")
_AUTH_400_TYPES = (
    "CSRFTokenError",
    "InvalidAuthorizationToken",
    "InvalidAuthorizationHeader",
    "InvalidAuthorizationPrefix",
)
PERMISSIONS_NEEDED = (
    "read, create and submit on Journal Entry, and read on Account, Company and Cost Center "
    "(ERPNext's Accounts Manager role has them)"
)


class FrappeError(Exception):
    """An answer from Frappe that is not a success (or no answer at all)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        exc_type: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.exc_type = exc_type
        self.retry_after = retry_after


class FrappeConfigurationError(FrappeError):
    """The site or the credentials are not set up for posting: stop, nothing more will work."""


class FrappeAuthError(FrappeConfigurationError):
    """401 / 403 / malformed auth."""


class FrappeValidationError(FrappeError):
    """417 and friends: Frappe refused this document; others may still be fine."""


class FrappeDuplicateError(FrappeError):
    """A unique value (for us: the posting key) is already taken."""


class FrappeTransientError(FrappeError):
    """429, 5xx or a lost connection: try again later."""


class FrappeNotFoundError(FrappeError):
    """404: no such document (or no such route)."""


@dataclass(frozen=True)
class FrappeDoc:
    name: str
    docstatus: int


# -- decoding Frappe's error envelope ---------------------------------------------------------

_TAG = re.compile(r"<[^>]+>")
_EXCEPTION_PREFIX = re.compile(r"^[\w.]+: ")


def _clean(text: str) -> str:
    """Messages may carry HTML (`<strong>`, links): keep the words."""
    return " ".join(html.unescape(_TAG.sub("", text)).split())


def decode_error_body(body: Any) -> tuple[str | None, str]:
    """(exc_type, message) of an error answer: `_server_messages` decoded twice, else
    `_error_message`, else the `exception` line without its class prefix."""
    if not isinstance(body, Mapping):
        return None, ""
    exc_type = body.get("exc_type") if isinstance(body.get("exc_type"), str) else None
    messages: list[str] = []
    raw = body.get("_server_messages")
    if isinstance(raw, str) and raw:
        try:
            items = json.loads(raw)  # a JSON string holding a list ...
        except json.JSONDecodeError:
            items = [raw]
        for item in items if isinstance(items, list) else [items]:
            try:
                entry = json.loads(item) if isinstance(item, str) else item  # ... of JSON strings
            except json.JSONDecodeError:
                entry = item
            text = entry.get("message") if isinstance(entry, Mapping) else entry
            if text:
                messages.append(_clean(str(text)))
    if not messages and isinstance(body.get("_error_message"), str):
        messages.append(_clean(body["_error_message"]))
    if not messages and isinstance(body.get("exception"), str):
        messages.append(_clean(_EXCEPTION_PREFIX.sub("", body["exception"], count=1)))
    if not messages and isinstance(body.get("message"), str):
        messages.append(_clean(body["message"]))
    return exc_type, "; ".join(m for m in messages if m)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def error_from_response(response: httpx.Response, site: str) -> FrappeError:
    """The typed error for a non-2xx answer."""
    status = response.status_code
    try:
        body = json.loads(response.content, parse_float=Decimal)
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None  # 429 from the rate limiter is plain text, 502/504 a proxy's HTML page
    exc_type, message = decode_error_body(body)
    label = f"HTTP {status}" + (f" {exc_type}" if exc_type else "")
    detail = f"{label}: {message}" if message else label
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    if status == 401 or (status == 400 and exc_type in _AUTH_400_TYPES):
        return FrappeAuthError(
            f"Frappe at {site} refused the API credentials ({detail}). Check {ENV_FRAPPE_API_KEY} "
            f"and {ENV_FRAPPE_API_SECRET}: the API key and secret of an enabled user (User → "
            "Settings → API Access → Generate Keys; generating again replaces the secret).",
            status=status,
            exc_type=exc_type,
        )
    if status == 403:
        return FrappeAuthError(
            f"Frappe at {site} denied the posting user a permission ({detail}). The user of "
            f"{ENV_FRAPPE_API_KEY} needs {PERMISSIONS_NEEDED}.",
            status=status,
            exc_type=exc_type,
        )
    if status == 429 or status >= 500 or exc_type == "RateLimitExceededError":
        return FrappeTransientError(
            detail, status=status, exc_type=exc_type, retry_after=retry_after
        )
    if status == 409 or exc_type in _DUPLICATE_TYPES:
        return FrappeDuplicateError(detail, status=status, exc_type=exc_type)
    if status == 404:
        return FrappeNotFoundError(detail, status=status, exc_type=exc_type)
    if status == 417 or exc_type:
        return FrappeValidationError(message or detail, status=status, exc_type=exc_type)
    return FrappeError(detail, status=status, exc_type=exc_type)


# -- the client -----------------------------------------------------------------------------------


class FrappeClient:
    def __init__(
        self,
        settings: FrappeSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        self._backoff = wait_exponential_jitter(
            initial=settings.backoff_initial, max=settings.backoff_max
        )
        self._http = httpx.Client(
            base_url=settings.url,
            headers={
                "Authorization": f"token {settings.api_key}:{settings.api_secret}",
                # Frappe answers errors as JSON only when Accept does not start with text/.
                "Accept": "application/json",
            },
            timeout=settings.timeout,
            transport=transport,
        )

    @property
    def site(self) -> str:
        return self.settings.url

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> FrappeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"FrappeClient({self.site!r})"

    # -- retry policy ----------------------------------------------------------------------------
    def retrying(self) -> Retrying:
        """Retries FrappeTransientError: backoff with jitter, never shorter than Retry-After."""
        return Retrying(
            retry=retry_if_exception_type(FrappeTransientError),
            stop=stop_after_attempt(self.settings.attempts),
            wait=self._wait,
            sleep=self._sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        after = getattr(exc, "retry_after", None) or 0.0
        return min(max(self._backoff(state), after), self.settings.max_wait)

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "Frappe: %s; retry %d of %d in %.1fs",
            exc,
            state.attempt_number,
            self.settings.attempts - 1,
            wait,
        )

    # -- requests --------------------------------------------------------------------------------
    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        """One request; the `data` of a success, or a typed FrappeError."""
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            # Connection refused, reset, timed out: the request may or may not have been done.
            raise FrappeTransientError(
                f"no answer from Frappe at {self.site} ({type(exc).__name__})"
            ) from None
        if response.status_code >= 400:
            raise self._redacted(error_from_response(response, self.site))
        try:
            body = json.loads(response.content, parse_float=Decimal)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise FrappeTransientError(
                f"unreadable answer from Frappe at {self.site} (HTTP {response.status_code})"
            ) from None
        if isinstance(body, Mapping) and "data" in body:
            return body["data"]
        if isinstance(body, Mapping) and "message" in body:
            return body["message"]
        raise FrappeTransientError(f"unexpected answer from Frappe at {self.site}")

    def _get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        for attempt in self.retrying():  # reads are idempotent: safe to repeat
            with attempt:
                return self._request("GET", path, params=params)
        raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover

    def _redacted(self, err: FrappeError) -> FrappeError:
        # A server could echo the Authorization header back in a message; never pass it on.
        secret = self.settings.api_secret
        if secret and secret in err.message:
            err.message = err.message.replace(secret, "***")
            err.args = (err.message,)
        return err

    def logged_user(self) -> str:
        """Who the credentials belong to (also proves they work)."""
        return str(self._get("/api/method/frappe.auth.get_logged_user"))

    def get_doc(self, doctype: str, name: str) -> dict[str, Any]:
        return self._get(f"/api/resource/{doctype}/{name}")

    def list_docs(
        self,
        doctype: str,
        filters: list[list[Any]],
        fields: tuple[str, ...] = ("name",),
        order_by: str = "creation asc",
    ) -> list[dict[str, Any]]:
        """Every matching document (`limit_page_length` 0 = no limit), with `fields`."""
        params = {
            "filters": json.dumps(filters),
            "fields": json.dumps(list(fields)),
            "order_by": order_by,
            "limit_page_length": "0",
        }
        data = self._get(f"/api/resource/{doctype}", params)
        return list(data or [])

    def find(self, doctype: str, field: str, value: str) -> list[FrappeDoc]:
        """Documents whose `field` equals `value` (any docstatus), oldest first."""
        rows = self.list_docs(doctype, [[field, "=", value]], ("name", "docstatus"))
        return [FrappeDoc(str(r["name"]), int(r["docstatus"])) for r in rows]

    def insert(self, doctype: str, body: bytes) -> FrappeDoc:
        """POST a new document (a JSON body, sent byte for byte). Not retried: see the module
        docstring."""
        data = self._request(
            "POST",
            f"/api/resource/{doctype}",
            content=body,
            headers={"Content-Type": "application/json"},
        )
        if not isinstance(data, Mapping) or not data.get("name"):
            raise FrappeTransientError(f"Frappe at {self.site} answered without a document name")
        return FrappeDoc(str(data["name"]), int(data.get("docstatus") or 0))
