"""Frappe's error envelope: exception classes with their HTTP status and `exc_type`, and the
message log that becomes `_server_messages`.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping
from typing import Any


def random_hash(n: int = 10) -> str:
    return secrets.token_hex(n)[:n]


def msg_log_entry(message: str, *, raise_exception: bool, title: str | None = None) -> dict:
    """One entry of Frappe's message log, as `frappe.msgprint` builds it."""
    entry: dict[str, Any] = {"message": message, "title": title or "Message"}
    if raise_exception:  # what frappe.throw / msgprint(raise_exception=...) add
        entry.update(indicator="red", raise_exception=1, __frappe_exc_id=random_hash())
    return entry


class FrappeError(Exception):
    """An error answer. `messages` become `_server_messages`; `text` is str(exception)."""

    def __init__(
        self,
        status: int,
        exc_type: str,
        messages: Iterable[dict] = (),
        *,
        text: str = "",
        module: str = "frappe.exceptions",
        source: str | None = None,
        error_message: str | None = None,
        headers: Mapping[str, str] | None = None,
        raw: tuple[str, bytes] | None = None,
    ) -> None:
        super().__init__(text or exc_type)
        self.status = status
        self.exc_type = exc_type
        self.messages = list(messages)
        self.text = text
        self.module = module
        self.source = source  # "erpnext" when ERPNext code raised it (Frappe's `_exc_source`)
        self.error_message = error_message
        self.headers = dict(headers or {})
        self.raw = raw  # (content type, body) for answers that are not Frappe JSON

    def body(self, traceback_allowed: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        # Frappe hides tracebacks for 404 unless `logging` is on (report_error).
        if traceback_allowed and self.status != 404:
            line = f"{self.module}.{self.exc_type}" + (f": {self.text}" if self.text else "")
            out["exception"] = line
            out["exc"] = json.dumps(
                [
                    "Traceback (most recent call last):\n"
                    '  File "frappe test stand-in", line 1, in <module>\n'
                    f"{line}\n"
                ]
            )
            if self.source:
                out["_exc_source"] = f"{self.source} (app)"
        out["exc_type"] = self.exc_type
        if self.messages:
            out["_server_messages"] = json.dumps([json.dumps(m) for m in self.messages])
        if self.error_message:
            out["_error_message"] = self.error_message
        return out


def throw(
    message: str,
    exc_type: str = "ValidationError",
    *,
    status: int = 417,
    title: str | None = None,
    source: str | None = "erpnext",
) -> FrappeError:
    """`frappe.throw(message, exc)`: one red message in the log, the message as the text."""
    return FrappeError(
        status,
        exc_type,
        [msg_log_entry(message, raise_exception=True, title=title)],
        text=message,
        source=source,
    )


def permission_error(doctype: str, ptype: str) -> FrappeError:
    # Document.raise_no_permission_to: sets flags.error_message, raises a bare PermissionError.
    return FrappeError(
        403,
        "PermissionError",
        error_message=f"Insufficient Permission for {doctype} (<strong>{ptype}</strong>)",
    )


def not_found(doctype: str, name: str) -> FrappeError:
    return throw(f"{doctype} {name} not found", "DoesNotExistError", status=404, source=None)


def authentication_error() -> FrappeError:
    # frappe.auth.validate_api_key_secret: `raise frappe.AuthenticationError`, no message.
    return FrappeError(401, "AuthenticationError")
