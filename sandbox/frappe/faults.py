"""Faults for tests: injected errors for the next matching requests, and the request log."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox.frappe.doctypes import JE
from sandbox.frappe.errors import FrappeError, msg_log_entry, permission_error


@dataclass
class FaultRule:
    remaining: int
    status: int
    match: Callable[[Any], bool] | None
    methods: frozenset[str] | None
    exc_type: str | None
    message: str | None
    retry_after: int

    def applies(self, method: str, payload: Any) -> bool:
        if self.methods is not None and method not in self.methods:
            return False
        return self.match is None or bool(self.match(payload))


# What Frappe (or the proxy in front of it) answers for each status when nothing else is said.
_DEFAULT_FAULTS: dict[int, tuple[str, str | None]] = {
    400: ("CSRFTokenError", "Invalid Request"),
    401: ("AuthenticationError", None),
    403: ("PermissionError", None),
    404: ("DoesNotExistError", "Not found (injected by the frappe test stand-in)"),
    409: (
        "DuplicateEntryError",
        "Journal Entry already exists (injected by the frappe test stand-in)",
    ),
    417: ("ValidationError", "Validation failed (injected by the frappe test stand-in)"),
    500: ("QueryDeadlockError", None),
    503: (
        "InReadOnlyMode",
        "Site is running in read only mode for maintenance or site update, "
        "this action can not be performed right now. Please try again "
        "later.",
    ),
}


def injected_error(rule: FaultRule) -> FrappeError:
    status = rule.status
    if status == 429:
        # frappe.rate_limiter.RateLimiter.respond(): plain text, go by status and Retry-After.
        return FrappeError(
            429,
            "TooManyRequestsError",
            headers={
                "Retry-After": str(rule.retry_after),
                "X-RateLimit-Limit": "600000",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(rule.retry_after),
            },
            raw=("text/plain; charset=utf-8", b"Too Many Requests"),
        )
    if status in (502, 504):  # answered by the reverse proxy, not by Frappe
        title = {502: "502 Bad Gateway", 504: "504 Gateway Time-out"}[status]
        page = (
            f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>"
            f"{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
        )
        return FrappeError(status, "ProxyError", raw=("text/html", page.encode()))
    exc_type, message = _DEFAULT_FAULTS.get(status, ("Exception", None))
    exc_type = rule.exc_type or exc_type
    message = rule.message if rule.message is not None else message
    if status == 403 and rule.message is None:
        return permission_error(JE, "create")
    messages = [msg_log_entry(message, raise_exception=True)] if message else []
    return FrappeError(status, exc_type, messages, text=message or "", source=None)


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request as the server saw it (for assertions in tests)."""

    method: str
    path: str  # URL-decoded, without the query string
    query: str
    status: int | None  # None: the connection was closed without an answer
    payload: Any  # the parsed document of a write, else None
    exc_type: str | None = None
    fault: str | None = None  # "injected", "dropped" or "auth_broken"


@dataclass
class Reply:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
