"""The HTTP surface: Frappe's v1 REST routes, authentication and permissions, over real HTTP.

Some 550 lines, on purpose: the routes, the authentication, the permissions and the test hooks
are one surface (what a client sees); everything behind them lives in its own module.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import logging
import re
import socket
import struct
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from extract.http_server import BackgroundHTTPService, TrackedHandler
from sandbox.frappe.chart import DEFAULT_COMPANY, Chart
from sandbox.frappe.doctypes import (
    BANK_TRANSACTION_FIELDS,
    JE,
    JEA,
    JOURNAL_ENTRY_ACCOUNT_FIELDS,
    POSTING_KEY_FIELD,
    STANDARD_FIELDS,
)
from sandbox.frappe.errors import (
    FrappeError,
    authentication_error,
    not_found,
    permission_error,
    throw,
)
from sandbox.frappe.faults import FaultRule, Reply, RequestRecord, injected_error
from sandbox.frappe.query import ListQuery
from sandbox.frappe.rules import docstatus_of
from sandbox.frappe.store import JournalEntryStore
from sandbox.frappe.values import dumps, timestamp

log = logging.getLogger("sandbox.frappe")

# Test credentials, in the shape Frappe generates (15-character key and secret). Not secrets.
DEFAULT_API_KEY = "c0ffee5a1ad0b1e"
DEFAULT_API_SECRET = "7e57ab1e5ecre70"
DEFAULT_USER = "mollie-ledger@groenevork.example"


_ROUTE = re.compile(r"/api(?:/v1)?/(resource|method)/(.+)")
_READ_ONLY_DOCTYPES = ("Account", "Company", "Cost Center", "Bank Transaction")
_PERMISSIONS = ("read", "create", "submit", "cancel", "delete")


def _request_payload(method: str, content_type: str, body: bytes) -> Any:
    """The document of a write, like frappe.api.v1.get_request_form_data."""
    if method not in ("POST", "PUT") or not body:
        return None
    text = body.decode("utf-8", errors="replace")
    if "application/x-www-form-urlencoded" in content_type:
        data: Any = dict(parse_qsl(text, keep_blank_values=True)).get("data", text)
    else:
        try:
            data = json.loads(text, parse_float=Decimal)
        except json.JSONDecodeError:
            raise throw(
                "The request body is not valid JSON (frappe test stand-in)", source=None
            ) from None
        if isinstance(data, dict) and "data" in data:
            data = data["data"]  # {"data": "<json string>"} or {"data": {...}}
    if isinstance(data, str):
        try:
            data = json.loads(data, parse_float=Decimal)
        except json.JSONDecodeError:
            raise throw(
                "The data parameter is not valid JSON (frappe test stand-in)", source=None
            ) from None
    if not isinstance(data, dict):
        raise throw("Invalid request arguments", source=None)
    data.pop("doctype", None)
    return data


class _Handler(TrackedHandler):
    server_version = "FrappeTestStandIn/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        reply = self.server.owner._dispatch(
            self.command, split.path, split.query, self.headers, body
        )
        if reply.drop:
            self.close_connection = True
            try:  # RST instead of FIN: the client sees the connection torn down mid-request
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
            except OSError:
                pass
            return
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for k, v in reply.headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(reply.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve


class FrappeTestServer(BackgroundHTTPService):
    handler_class = _Handler
    thread_name = "frappe-stand-in"

    """A Frappe/ERPNext test stand-in (not Frappe) on a real socket, in a background thread.

    `port=0` picks a free port; `url` is `http://HOST:PORT`. Use as a context manager or call
    `start()` / `stop()`. See the module docstring for what it imitates and what it does not.
    """

    def __init__(
        self,
        chart: Chart | None = None,
        company: str = DEFAULT_COMPANY,
        api_key: str = DEFAULT_API_KEY,
        api_secret: str = DEFAULT_API_SECRET,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        user: str = DEFAULT_USER,
        strict: bool = True,
        posting_key_field: str | None = POSTING_KEY_FIELD,
        allow_error_traceback: bool = True,
        bank_transactions: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        self.chart = chart or Chart.default()
        if company not in self.chart.companies:
            raise ValueError(f"company {company!r} is not in the chart")
        self.company = company
        self.api_key = api_key
        self.api_secret = api_secret
        super().__init__(host, port)
        self.user = user
        self.strict = strict
        self.posting_key_field = posting_key_field
        self.allow_error_traceback = allow_error_traceback
        self._lock = threading.Lock()
        self._store = JournalEntryStore(
            self.chart, strict=strict, posting_key_field=posting_key_field, user=user
        )
        self._bank_transactions: dict[str, dict[str, Any]] = {}
        self._faults: list[FaultRule] = []
        self._drops: list[FaultRule] = []
        self._auth_broken = False
        self._permissions = dict.fromkeys(_PERMISSIONS, True)
        self._log: list[RequestRecord] = []
        self._bank_seed = [dict(bt) for bt in bank_transactions]
        for bt in self._bank_seed:
            self.add_bank_transaction(bt)

    # -- lifecycle ----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def auth_header(self) -> str:
        """The Authorization header value for this server's API key and secret."""
        return f"token {self.api_key}:{self.api_secret}"

    def start(self) -> FrappeTestServer:
        return super().start()

    def _started(self) -> None:
        log.info("Frappe test stand-in serving %s", self.url)

    # -- state for tests ----------------------------------------------------------------------
    @property
    def journal_entries(self) -> dict[str, dict[str, Any]]:
        """A snapshot of the stored Journal Entries, name → document (amounts as Decimal)."""
        with self._store.lock:
            return copy.deepcopy(self._store.docs)

    @property
    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._log)

    def reset(self) -> None:
        """Back to the state after construction: no entries, fresh naming counters, the seeded
        bank transactions only, no faults, all permissions, an empty request log."""
        with self._store.lock:
            self._store.docs.clear()
            self._store.counters.clear()
        with self._lock:
            self._bank_transactions.clear()
        for bt in self._bank_seed:
            self.add_bank_transaction(bt)
        with self._lock:
            self._faults.clear()
            self._drops.clear()
            self._log.clear()
            self._auth_broken = False
            self._permissions = dict.fromkeys(_PERMISSIONS, True)

    def add_bank_transaction(self, doc: Mapping[str, Any]) -> str:
        """Seed a (submitted) Bank Transaction; returns its name."""
        unknown = set(doc) - BANK_TRANSACTION_FIELDS - STANDARD_FIELDS
        if unknown:
            raise ValueError(f"Bank Transaction has no field(s) {sorted(unknown)}")
        with self._lock:
            out = {
                k: (
                    Decimal(str(v))
                    if k in ("deposit", "withdrawal", "allocated_amount", "unallocated_amount")
                    else v
                )
                for k, v in doc.items()
            }
            n = len(self._bank_transactions) + 1
            year = str(out.get("date") or date.today().isoformat())[:4]
            name = str(out.get("name") or f"ACC-BTN-{year}-{n:05d}")
            now = timestamp()
            out = {
                "name": name,
                "owner": "Administrator",
                "creation": now,
                "modified": now,
                "modified_by": "Administrator",
                "docstatus": 1,
                "idx": 0,
                "company": self.company,
                "status": "Unreconciled",
                **out,
                "doctype": "Bank Transaction",
            }
            out["name"] = name
            self._bank_transactions[name] = out
            return name

    # -- fault injection ----------------------------------------------------------------------
    def fail_next(
        self,
        n: int = 1,
        status: int = 500,
        match: Callable[[Any], bool] | None = None,
        *,
        methods: Iterable[str] | None = ("POST", "PUT", "DELETE"),
        exc_type: str | None = None,
        message: str | None = None,
        retry_after: int = 1,
    ) -> None:
        """Answer the next `n` matching requests with `status`; nothing is stored.

        `match(payload)` sees the parsed document of a write (None for reads). `methods` limits
        the rule to those HTTP methods (default: writes only; None = any). 429 answers in plain
        text with Retry-After, 502/504 with a proxy's HTML page, anything else in Frappe's JSON
        envelope (`exc_type` and `message` override the defaults). Rules queue up in order.
        """
        rule = FaultRule(
            n,
            status,
            match,
            frozenset(methods) if methods else None,
            exc_type,
            message,
            retry_after,
        )
        with self._lock:
            self._faults.append(rule)

    def drop_response_after_insert(
        self, n: int = 1, match: Callable[[Any], bool] | None = None
    ) -> None:
        """For the next `n` successful Journal Entry inserts (matching `match(payload)`): store
        the entry, then close the connection without answering, as when the client times out
        or the network fails after Frappe committed."""
        rule = FaultRule(n, 0, match, frozenset({"POST"}), None, None, 0)
        with self._lock:
            self._drops.append(rule)

    def set_auth_broken(self, broken: bool = True) -> None:
        """While broken, every request is refused with 401 (revoked or rotated keys)."""
        with self._lock:
            self._auth_broken = broken

    def set_permissions(self, **allowed: bool) -> None:
        """Grant or withhold the API user's read/create/submit/cancel/delete rights (→ 403)."""
        unknown = set(allowed) - set(_PERMISSIONS)
        if unknown:
            raise ValueError(f"unknown permission(s) {sorted(unknown)}; use {_PERMISSIONS}")
        with self._lock:
            self._permissions.update(allowed)

    def _take(self, rules: list[FaultRule], method: str, payload: Any) -> FaultRule | None:
        with self._lock:
            for rule in rules:
                if rule.remaining > 0 and rule.applies(method, payload):
                    rule.remaining -= 1
                    return rule
            return None

    # -- per request --------------------------------------------------------------------------
    def _authenticate(self, header: str) -> str | None:
        """frappe.auth.validate_auth: the user, None for Guest, or 401/400."""
        parts = header.split(" ")
        if len(parts) != 2:
            return None  # no (usable) header: the request runs as Guest
        scheme, token = parts[0].lower(), parts[1]
        if scheme == "basic":
            try:
                token = base64.b64decode(token, validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                raise throw(
                    "Failed to decode token, please provide a valid base64-encoded token.",
                    "InvalidAuthorizationToken",
                    status=400,
                    source=None,
                ) from None
        if scheme in ("basic", "token"):
            key, sep, secret = token.partition(":")
            if sep and ":" not in secret and key == self.api_key and secret == self.api_secret:
                return self.user
        raise authentication_error()  # a header was sent but identified no one

    def _require(self, user: str | None, ptype: str, doctype: str) -> None:
        if user is None or not self._permissions[ptype]:
            raise permission_error(doctype, ptype)

    def _dispatch(self, method: str, raw_path: str, query: str, headers: Any, body: bytes) -> Reply:
        path = unquote(raw_path)
        payload: Any = None
        fault: str | None = None
        user: str | None = None
        try:
            if not path.startswith("/api/"):
                reply = Reply(404, b"<h1>Not Found</h1>", "text/html; charset=utf-8")
                self._record(method, path, query, reply.status, None, None, None)
                return reply
            # Parsed first so the request log has the payload even when auth fails; a body
            # that does not parse is reported after auth, as Frappe would.
            bad_body: FrappeError | None = None
            try:
                payload = _request_payload(method, headers.get("Content-Type") or "", body)
            except FrappeError as err:
                bad_body = err
            if self._auth_broken:
                fault = "auth_broken"
                raise authentication_error()
            user = self._authenticate(headers.get("Authorization") or "")
            if bad_body is not None:
                raise bad_body
            rule = self._take(self._faults, method, payload)
            if rule is not None:
                fault = "injected"
                raise injected_error(rule)
            reply = self._route(method, path, query, payload, user)
            if reply.drop:
                fault = "dropped"
        except FrappeError as err:
            reply = self._error_reply(err, user)
        except Exception:  # a bug in the stand-in: answer like Frappe would, keep serving
            log.exception("frappe stand-in failed on %s %s", method, path)
            reply = self._error_reply(FrappeError(500, "Exception", text="stand-in bug"), user)
        exc_type = None
        if reply.status >= 400 and reply.content_type.startswith("application/json"):
            exc_type = json.loads(reply.body).get("exc_type")
        self._record(
            method, path, query, None if reply.drop else reply.status, payload, exc_type, fault
        )
        return reply

    def _record(
        self,
        method: str,
        path: str,
        query: str,
        status: int | None,
        payload: Any,
        exc_type: str | None,
        fault: str | None,
    ) -> None:
        with self._lock:
            self._log.append(
                RequestRecord(method, path, query, status, copy.deepcopy(payload), exc_type, fault)
            )

    def _error_reply(self, err: FrappeError, user: str | None) -> Reply:
        if err.raw is not None:
            content_type, body = err.raw
            return Reply(err.status, body, content_type, err.headers)
        # Tracebacks only for system users (the API user is one; Guest is not).
        body = dumps(err.body(self.allow_error_traceback and user is not None))
        return Reply(err.status, body, "application/json", err.headers)

    def _route(self, method: str, path: str, query: str, payload: Any, user: str | None) -> Reply:
        m = _ROUTE.fullmatch(path)
        if m is None:
            raise throw(f"Page {path} not found", "DoesNotExistError", status=404, source=None)
        kind, rest = m.groups()
        if kind == "method":
            return self._method(rest, user)
        doctype, _, name = rest.partition("/")
        params = dict(parse_qsl(query, keep_blank_values=True))
        if doctype == JE:
            return self._journal_entry(method, name, params, payload, user)
        if doctype in _READ_ONLY_DOCTYPES:
            if method != "GET":
                raise permission_error(doctype, "create" if method == "POST" else "write")
            self._require(user, "read", doctype)
            return self._read_only(doctype, name, params)
        raise throw(f"DocType {doctype} not found", "DoesNotExistError", status=404, source=None)

    def _method(self, dotted: str, user: str | None) -> Reply:
        if dotted != "frappe.auth.get_logged_user":
            raise throw(
                f"Failed to get method for command {dotted} with No module named "
                f"'{dotted.rsplit('.', 1)[0]}' (not served by the frappe test stand-in)",
                "DoesNotExistError",
                status=404,
                source=None,
            )
        if user is None:  # whitelisted, but not for Guest
            raise throw(
                "<details><summary>You are not permitted to access this resource."
                f"</summary>Function {dotted} is not whitelisted.</details>",
                "PermissionError",
                status=403,
                title="Method Not Allowed",
                source=None,
            )
        return Reply(200, dumps({"message": user}))

    def _journal_entry(
        self, method: str, name: str, params: Mapping[str, str], payload: Any, user: str | None
    ) -> Reply:
        store = self._store
        if not name:
            if method == "GET":
                self._require(user, "read", JE)
                query = ListQuery(
                    JE, store.rules.header_fields, (JEA, "accounts"), JOURNAL_ENTRY_ACCOUNT_FIELDS
                )
                with store.lock:
                    docs = list(store.docs.values())
                    data = query.run(docs, params)
                return Reply(200, dumps({"data": data}))
            if method == "POST":
                self._require(user, "create", JE)
                doc = payload or {}
                if docstatus_of(doc.get("docstatus")) == 1:
                    self._require(user, "submit", JE)
                stored = store.insert(doc)
                rule = self._take(self._drops, method, payload)
                return Reply(200, dumps({"data": stored}), drop=rule is not None)
            raise FrappeError(405, "MethodNotAllowed", text=f"{method} not allowed")
        if method == "GET":
            self._require(user, "read", JE)
            return Reply(200, dumps({"data": store.get(name)}))
        if method == "PUT":
            self._require(user, "read", JE)
            current = store.get(name)
            new = docstatus_of((payload or {}).get("docstatus", current["docstatus"]))
            ptype = {(0, 1): "submit", (1, 2): "cancel"}.get((current["docstatus"], new), "write")
            self._require(user, "create" if ptype == "write" else ptype, JE)
            return Reply(200, dumps({"data": store.update(name, payload or {})}))
        if method == "DELETE":
            self._require(user, "delete", JE)
            store.delete(name)
            return Reply(202, dumps({"data": "ok"}))
        raise FrappeError(405, "MethodNotAllowed", text=f"{method} not allowed")

    def _read_only(self, doctype: str, name: str, params: Mapping[str, str]) -> Reply:
        docs = self._read_only_docs(doctype)
        if name:
            if name not in docs:
                raise not_found(doctype, name)
            return Reply(200, dumps({"data": docs[name]}))
        fields = {k for d in docs.values() for k in d}
        if doctype == "Bank Transaction":
            fields |= BANK_TRANSACTION_FIELDS
        data = ListQuery(doctype, fields, None).run(list(docs.values()), params)
        return Reply(200, dumps({"data": data}))

    def _read_only_docs(self, doctype: str) -> dict[str, dict[str, Any]]:
        chart = self.chart
        std = {
            "owner": "Administrator",
            "creation": "2026-01-01 00:00:00.000000",
            "modified": "2026-01-01 00:00:00.000000",
            "modified_by": "Administrator",
            "docstatus": 0,
            "idx": 0,
            "doctype": doctype,
        }
        if doctype == "Bank Transaction":
            with self._lock:
                return copy.deepcopy(self._bank_transactions)
        if doctype == "Account":
            return {
                a.name: {
                    **std,
                    "name": a.name,
                    "account_name": a.name.rsplit(" - ", 1)[0],
                    "company": a.company,
                    "root_type": a.root_type,
                    "report_type": a.report_type,
                    "account_type": a.account_type,
                    "is_group": int(a.is_group),
                    "account_currency": chart.currency_of(a),
                    "parent_account": a.parent_account,
                    "disabled": int(a.disabled),
                    "freeze_account": "No",
                }
                for a in chart.accounts.values()
            }
        if doctype == "Company":
            return {
                c.name: {
                    **std,
                    "name": c.name,
                    "company_name": c.name,
                    "abbr": c.abbr,
                    "default_currency": c.default_currency,
                    "cost_center": c.cost_center,
                }
                for c in chart.companies.values()
            }
        return {
            c.name: {
                **std,
                "name": c.name,
                "cost_center_name": c.name.rsplit(" - ", 1)[0],
                "company": c.company,
                "is_group": int(c.is_group),
                "parent_cost_center": c.parent_cost_center,
            }
            for c in chart.cost_centers.values()
        }
