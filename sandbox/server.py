"""The sandbox's HTTP face: a read-only Mollie API v2 server over real HTTP.

Length: the route table, Mollie's pagination, credentials rules, errors and fault injection for
every endpoint in one place, so that every endpoint answers by the same rules.

    with SandboxServer(SandboxConfig.from_cli(seed=7, payments=600, days=45,
                                              now="2026-11-01T00:00:00Z")) as server:
        httpx.get(f"{server.base_url}/payments",
                  headers={"Authorization": f"Bearer {DEFAULT_ACCESS_TOKEN}"})

Behaves as Mollie's API reference says Mollie does: bearer auth with an organization
access token (reads everything) or per-profile API keys (payments, refunds, chargebacks, customers
and subscriptions of their own profile only), Mollie's problem-JSON errors, `application/hal+json`
everywhere, and cursor pagination (`from` inclusive, `limit` 1–250, newest first, `sort` where
Mollie has it, `next`/`previous` hrefs built from the request's own scheme, host and port).

One server can serve several organizations (`more_worlds`): each has its own access token,
world (seed), profiles and profile API keys, and a request sees only the world its credentials
belong to, so a token never reaches another organization's objects (they answer 404).

Lists are kept sorted by (createdAt, id) once per world and per filter (cached); a `from` cursor is
found by bisection through `world.by_id`, so a page costs O(log n + limit) even with a million
payments, and only the page's objects are rendered.

Faults (`FaultConfig`) are deterministic from the seed, the request target and the attempt number
for that target, and capped per target so a retrying client always gets through.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import logging
import re
import socket
import struct
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from extract.http_server import BackgroundHTTPService, TrackedHandler
from sandbox import render
from sandbox.generate import SandboxConfig, World, build_world
from sandbox.model import Payment, Profile, Settlement

log = logging.getLogger("sandbox.server")

DEFAULT_ACCESS_TOKEN = "access_sandbox0mollie0ledger0demo0token"
HAL = "application/hal+json"
MAX_LIMIT = 250
DEFAULT_LIMIT = 50
ERROR_DOCS = "https://docs.mollie.com/overview/handling-errors"
AUTH_DOCS = "https://docs.mollie.com/overview/authentication"
TITLES = {
    400: "Bad Request",
    401: "Unauthorized Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


@dataclass(frozen=True, slots=True)
class FaultConfig:
    """Shares (0–1) of requests that fail, per request target, deterministic from `seed`."""

    rate_limit_share: float = 0.0  # 429 with Retry-After
    server_error_share: float = 0.0  # 500 / 502 / 503 problem JSON
    drop_share: float = 0.0  # connection closed without a response
    slow_share: float = 0.0  # answered after `slow_seconds`
    # Headers promise the whole body (Content-Length), half of it is sent, then the connection
    # closes: a proxy or Mollie dying mid-response.
    truncate_share: float = 0.0
    slow_seconds: float = 1.0
    retry_after_seconds: int = 1
    max_faults_per_url: int = 2  # then the target is always answered normally
    seed: int = 0

    @property
    def active(self) -> bool:
        return (
            self.rate_limit_share
            + self.server_error_share
            + self.drop_share
            + self.slow_share
            + self.truncate_share
        ) > 0


class ApiError(Exception):
    """A Mollie problem-JSON response."""

    def __init__(
        self,
        status: int,
        detail: str,
        field: str | None = None,
        headers: dict[str, str] | None = None,
        docs: str = ERROR_DOCS,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.field = field
        self.headers = headers or {}
        self.docs = docs

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "status": self.status,
            "title": TITLES.get(self.status, "Error"),
            "detail": self.detail,
        }
        if self.field:
            out["field"] = self.field
        out["_links"] = {"documentation": {"href": self.docs, "type": "text/html"}}
        return out


def not_found(entity: str, token: str) -> ApiError:
    return ApiError(404, f"No {entity} exists with token {token}.")


def _sort_key(obj: Any) -> tuple[int, str]:
    """Mollie lists are ordered by creation (invoices: by issue), ties broken by id."""
    created = getattr(obj, "created_at", None)
    return (obj.issued_at if created is None else created, obj.id)


def _sorted(items: Iterable[Any]) -> list[Any]:
    return sorted(items, key=_sort_key)


def _group(items: list[Any], key: Callable[[Any], str | None]) -> dict[str | None, list[Any]]:
    """Split a sorted list into sorted sub-lists by `key`, in one pass."""
    out: dict[str | None, list[Any]] = {}
    for obj in items:
        out.setdefault(key(obj), []).append(obj)
    return out


class Index:
    """One world plus its sorted lists, built lazily and cached (a world never changes)."""

    FILTER_CACHE_SIZE = 512

    def __init__(self, world: World) -> None:
        self.world = world
        self._lock = threading.RLock()
        self._cache: dict[str, Any] = {}
        self._filtered: OrderedDict[tuple, list[Any]] = OrderedDict()

    def _get(self, name: str, build: Callable[[], Any]) -> Any:
        value = self._cache.get(name)
        if value is None:
            with self._lock:
                value = self._cache.get(name)
                if value is None:
                    value = self._cache[name] = build()
        return value

    def filtered(self, key: tuple, build: Callable[[], list[Any]]) -> list[Any]:
        with self._lock:
            hit = self._filtered.get(key)
            if hit is not None:
                self._filtered.move_to_end(key)
                return hit
        value = build()
        with self._lock:
            self._filtered[key] = value
            while len(self._filtered) > self.FILTER_CACHE_SIZE:
                self._filtered.popitem(last=False)
        return value

    # -- whole lists, oldest first ------------------------------------------------------------
    def all(self, kind: str) -> list[Any]:
        w = self.world
        source = {
            "payments": w.payments,
            "refunds": w.refunds,
            "chargebacks": w.chargebacks,
            "captures": w.captures,
            "customers": w.customers,
            "subscriptions": w.subscriptions,
            "settlements": w.settlements,
            "invoices": w.invoices,
            "balances": w.balances,
            "profiles": w.profiles,
        }[kind]
        return self._get(f"all:{kind}", lambda: _sorted(source))

    def payment_profile(self, obj: Any) -> str:
        return self.world.by_id[obj.payment_id].profile_id

    def by(self, kind: str, dim: str, value: str | None) -> list[Any]:
        """A list grouped by one dimension (profile, customer, subscription, balance)."""

        def build() -> dict[str | None, list[Any]]:
            if kind == "transactions":
                return _group(_sorted(self.world.transactions), lambda r: r.balance_id)
            items = self.all(kind)
            if dim == "profile" and kind in ("refunds", "chargebacks", "captures"):
                return _group(items, self.payment_profile)
            attr = {
                "profile": "profile_id",
                "customer": "customer_id",
                "subscription": "subscription_id",
            }[dim]
            return _group(items, lambda o: getattr(o, attr))

        return self._get(f"by:{kind}:{dim}", build).get(value, [])

    def pending_settlement(self, kind: str) -> Settlement | None:
        def build() -> tuple[Settlement | None]:
            from sandbox.reports import pending_settlement

            return (pending_settlement(self.world, kind),)

        return self._get(f"pending:{kind}", build)[0]

    def report(self, key: tuple, build: Callable[[], dict]) -> dict:
        return self.filtered(("report", *key), lambda: [build()])[0]

    def warm(self) -> None:
        """Build the big lists ahead of the first request (seconds for a million payments)."""
        for kind in (
            "payments",
            "balances",
            "settlements",
            "invoices",
            "refunds",
            "chargebacks",
            "customers",
            "subscriptions",
        ):
            self.all(kind)
        for b in self.world.balances:
            self.by("transactions", "balance", b.id)
        render.derived(self.world)


@dataclass(slots=True)
class Auth:
    kind: str  # "organization" | "profile"
    profile_id: str | None
    test: bool


@dataclass(slots=True)
class Ctx:
    """One request: its world, credentials, base URLs and query."""

    idx: Index
    auth: Auth
    origin: str  # scheme://host:port as the client addressed us
    path: str
    raw_query: str
    params: dict[str, str]
    pairs: list[tuple[str, str]]

    @property
    def world(self) -> World:
        return self.idx.world

    @property
    def base(self) -> str:
        return f"{self.origin}/v2"

    @property
    def self_href(self) -> str:
        return f"{self.origin}{self.path}" + (f"?{self.raw_query}" if self.raw_query else "")


# -- the API ------------------------------------------------------------------------------------


def _date_param(ctx: Ctx, name: str) -> date:
    value = ctx.params.get(name)
    if not value:
        raise ApiError(400, f"The '{name}' parameter is required.", name)
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ApiError(400, f"The '{name}' parameter must be a date formatted as YYYY-MM-DD.", name)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ApiError(400, f"The '{name}' parameter is not a valid date.", name) from None


def _limit(ctx: Ctx) -> int:
    raw = ctx.params.get("limit")
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    if not re.fullmatch(r"\d+", raw.strip()):
        raise ApiError(400, "The limit must be an integer between 1 and 250.", "limit")
    n = int(raw)
    if not 1 <= n <= MAX_LIMIT:
        raise ApiError(400, "The limit must be an integer between 1 and 250.", "limit")
    return n


def _descending(ctx: Ctx, sortable: bool) -> bool:
    value = ctx.params.get("sort")
    if not sortable or value is None:
        return True
    if value not in ("asc", "desc"):
        raise ApiError(400, "The sort parameter must be 'asc' or 'desc'.", "sort")
    return value == "desc"


def _position(ctx: Ctx, items: list[Any], cursor: str) -> int:
    """Ascending index of the cursor object in `items` (bisection, no scan)."""
    obj = ctx.world.by_id.get(cursor) if not ctx.auth.test else None
    if obj is not None and hasattr(obj, "id"):
        i = bisect.bisect_left(items, _sort_key(obj), key=_sort_key)
        if i < len(items) and items[i] is obj:
            return i
    raise ApiError(
        400,
        "Invalid cursor value: the 'from' parameter does not point to an item of this list.",
        "from",
    )


def _page_href(ctx: Ctx, cursor: str, limit: int) -> dict[str, str]:
    params = [(k, v) for k, v in ctx.pairs if k not in ("from", "limit")]
    params += [("from", cursor), ("limit", str(limit))]
    return {"href": f"{ctx.origin}{ctx.path}?{urlencode(params)}", "type": HAL}


def paginate(
    ctx: Ctx,
    items: list[Any],
    key: str,
    renderer: Callable[[Any], dict],
    docs: str,
    sortable: bool = False,
) -> dict[str, Any]:
    """Mollie's cursor page over `items` (sorted oldest first)."""
    limit = _limit(ctx)
    desc = _descending(ctx, sortable)
    if ctx.auth.test:
        items = []
    n = len(items)
    cursor = ctx.params.get("from")
    start = 0
    if cursor:
        pos = _position(ctx, items, cursor)
        start = n - 1 - pos if desc else pos
    end = min(n, start + limit)

    def at(v: int) -> Any:  # the v-th item in the requested order
        return items[n - 1 - v] if desc else items[v]

    page = [at(v) for v in range(start, end)]
    links = {
        "self": {"href": ctx.self_href, "type": HAL},
        "previous": _page_href(ctx, at(max(0, start - limit)).id, limit) if start > 0 else None,
        "next": _page_href(ctx, at(end).id, limit) if end < n else None,
        "documentation": render.doc(docs),
    }
    return {"count": len(page), "_embedded": {key: [renderer(o) for o in page]}, "_links": links}


class Api:
    """Routes a GET to its handler. Stateless apart from the index it is given per request."""

    ORG_ONLY = ("balances", "settlements", "invoices", "organizations", "profiles")

    def __init__(self) -> None:
        routes: list[tuple[str, Callable[..., dict]]] = [
            ("/balances", self.balances),
            ("/balances/{S}", self.balance),
            ("/balances/{S}/transactions", self.balance_transactions),
            ("/balances/{S}/report", self.balance_report),
            ("/settlements", self.settlements),
            ("/settlements/{S}", self.settlement),
            ("/settlements/{S}/(payments|refunds|chargebacks|captures)", self.settlement_list),
            ("/invoices", self.invoices),
            ("/invoices/{S}", self.invoice),
            ("/organizations/{S}", self.organization),
            ("/profiles", self.profiles),
            ("/profiles/{S}", self.profile),
            ("/payments", self.payments),
            ("/payments/{S}", self.payment),
            ("/payments/{S}/(refunds|chargebacks|captures)", self.payment_list),
            ("/payments/{S}/(refunds|chargebacks|captures)/{S}", self.payment_child),
            ("/refunds", self.refunds),
            ("/chargebacks", self.chargebacks),
            ("/customers", self.customers),
            ("/customers/{S}", self.customer),
            ("/customers/{S}/payments", self.customer_payments),
            ("/customers/{S}/subscriptions", self.customer_subscriptions),
            ("/customers/{S}/subscriptions/{S}", self.customer_subscription),
            ("/customers/{S}/subscriptions/{S}/payments", self.subscription_payments),
            ("/subscriptions", self.subscriptions),
        ]
        segment = "([^/]+)"
        self.routes = [
            (re.compile("^/v2" + p.replace("{S}", segment) + "/?$"), h) for p, h in routes
        ]

    def dispatch(self, ctx: Ctx) -> dict:
        for pattern, handler in self.routes:
            m = pattern.match(ctx.path)
            if m:
                top = ctx.path.split("/")[2]
                me = ctx.path.rstrip("/") == "/v2/profiles/me"
                if ctx.auth.kind == "profile" and top in self.ORG_ONLY and not me:
                    raise ApiError(
                        403,
                        "This endpoint requires an organization access token "
                        "(or OAuth access token); an API key is not allowed.",
                    )
                return handler(ctx, *m.groups())
        raise ApiError(404, "The resource could not be found: no API endpoint exists at this URL.")

    # -- helpers ------------------------------------------------------------------------------
    @staticmethod
    def _get(ctx: Ctx, entity: str, token: str, prefix: str) -> Any:
        obj = None if ctx.auth.test else ctx.world.by_id.get(token)
        if obj is None or not token.startswith(prefix):
            raise not_found(entity, token)
        return obj

    def _profile_of(self, ctx: Ctx, obj: Any) -> str:
        if isinstance(obj, Payment):
            return obj.profile_id
        if hasattr(obj, "payment_id"):
            return ctx.world.by_id[obj.payment_id].profile_id
        return obj.profile_id

    def _scoped(self, ctx: Ctx, entity: str, token: str, prefix: str) -> Any:
        """Get an object, hidden (404) from API keys of other profiles."""
        obj = self._get(ctx, entity, token, prefix)
        if ctx.auth.kind == "profile" and self._profile_of(ctx, obj) != ctx.auth.profile_id:
            raise not_found(entity, token)
        return obj

    def _profile_filter(self, ctx: Ctx) -> str | None:
        """The profile a list is restricted to: the API key's own, or the `profileId` param."""
        if ctx.auth.kind == "profile":
            return ctx.auth.profile_id
        value = ctx.params.get("profileId")
        if value:
            if not isinstance(ctx.world.by_id.get(value), Profile):
                raise not_found("profile", value)
            return value
        return None

    def _embed_payment(self, ctx: Ctx, fn: Callable[[Any], dict]) -> Callable[[Any], dict]:
        embed = ctx.params.get("embed")
        if not embed:
            return fn
        if embed != "payment":
            raise ApiError(400, f"Unsupported embed value '{embed}'.", "embed")

        def with_payment(obj: Any) -> dict:
            out = fn(obj)
            payment = ctx.world.by_id[obj.payment_id]
            out["_embedded"] = {"payment": render.render_payment(ctx.world, payment, ctx.base)}
            return out

        return with_payment

    def _r(self, ctx: Ctx, fn: Callable[[World, Any, str], dict]) -> Callable[[Any], dict]:
        world, base = ctx.world, ctx.base
        return lambda obj: fn(world, obj, base)

    def _balance(self, ctx: Ctx, token: str) -> Any:
        if token == "primary" and not ctx.auth.test:
            return ctx.world.balances[0]
        return self._get(ctx, "balance", token, "bal_")

    def _subs(self, ctx: Ctx, ids: list[str], key: tuple) -> list[Any]:
        by_id = ctx.world.by_id
        return ctx.idx.filtered(key, lambda: _sorted(by_id[x] for x in ids))

    # -- balances -----------------------------------------------------------------------------
    def balances(self, ctx: Ctx) -> dict:
        items = ctx.idx.all("balances")
        currency = ctx.params.get("currency")
        if currency:
            items = [b for b in items if b.currency == currency]
        return paginate(
            ctx, items, "balances", self._r(ctx, render.render_balance), "list-balances"
        )

    def balance(self, ctx: Ctx, token: str) -> dict:
        return render.render_balance(ctx.world, self._balance(ctx, token), ctx.base)

    def balance_transactions(self, ctx: Ctx, token: str) -> dict:
        b = self._balance(ctx, token)
        items = ctx.idx.by("transactions", "balance", b.id)
        return paginate(
            ctx,
            items,
            "balance_transactions",
            self._r(ctx, render.render_balance_transaction),
            "list-balance-transactions",
        )

    def balance_report(self, ctx: Ctx, token: str) -> dict:
        b = self._balance(ctx, token)
        start, until = _date_param(ctx, "from"), _date_param(ctx, "until")
        grouping = ctx.params.get("grouping") or "status-balances"
        if grouping not in ("status-balances", "transaction-categories"):
            raise ApiError(
                400,
                "The grouping must be 'status-balances' or 'transaction-categories'.",
                "grouping",
            )
        if start > until:
            raise ApiError(422, "The 'from' date must be before the 'until' date.", "from")
        from sandbox.reports import balance_report

        body = dict(
            ctx.idx.report(
                (b.id, start, until, grouping),
                lambda: balance_report(ctx.world, b, start, until, grouping),
            )
        )
        body["_links"] = {
            "self": {"href": ctx.self_href, "type": HAL},
            "documentation": render.doc("get-balance-report"),
        }
        return body

    # -- settlements --------------------------------------------------------------------------
    def settlements(self, ctx: Ctx) -> dict:
        p = ctx.params
        balance_id, year, month = p.get("balanceId"), p.get("year"), p.get("month")
        currencies = p.get("currencies")
        if year is not None and not re.fullmatch(r"\d{4}", year):
            raise ApiError(400, "The year must be formatted as YYYY.", "year")
        if month is not None:
            if year is None:
                raise ApiError(400, "The month can only be used together with the year.", "month")
            if not re.fullmatch(r"\d{1,2}", month) or not 1 <= int(month) <= 12:
                raise ApiError(400, "The month must be between 1 and 12.", "month")
        items = ctx.idx.all("settlements")
        if balance_id or year or currencies:
            wanted = set(currencies.split(",")) if currencies else None
            months = ctx.world.months

            def keep(s: Settlement) -> bool:
                if balance_id and s.balance_id != balance_id:
                    return False
                if wanted is not None and s.currency not in wanted:
                    return False
                if year:
                    y, m = months.month_of(s.created_at)
                    if y != int(year) or (month and m != int(month)):
                        return False
                return True

            key = ("settlements", balance_id, year, month, currencies)
            items = ctx.idx.filtered(
                key, lambda: [s for s in ctx.idx.all("settlements") if keep(s)]
            )
        return paginate(
            ctx, items, "settlements", self._r(ctx, render.render_settlement), "list-settlements"
        )

    def _settlement(self, ctx: Ctx, token: str) -> Settlement:
        s = None
        if not ctx.auth.test:
            if token in ("open", "next"):
                s = ctx.idx.pending_settlement(token)
            elif token.startswith("stl_"):
                s = ctx.world.by_id.get(token)
            else:
                s = ctx.world.settlement_by_reference.get(token)
        if s is None:
            raise not_found("settlement", token)
        return s

    def settlement(self, ctx: Ctx, token: str) -> dict:
        return render.render_settlement(ctx.world, self._settlement(ctx, token), ctx.base)

    def settlement_list(self, ctx: Ctx, token: str, what: str) -> dict:
        s = self._settlement(ctx, token)
        ids = {
            "payments": s.payment_ids,
            "refunds": s.refund_ids,
            "chargebacks": s.chargeback_ids,
            "captures": s.capture_ids,
        }[what]
        items = self._subs(ctx, ids, ("settlement", s.id, what))
        renderer = {
            "payments": render.render_payment,
            "refunds": render.render_refund,
            "chargebacks": render.render_chargeback,
            "captures": render.render_capture,
        }[what]
        fn = self._r(ctx, renderer)
        if what == "payments":
            profile = self._profile_filter(ctx)
            if profile:
                base_items = items
                items = ctx.idx.filtered(
                    ("settlement", s.id, what, profile),
                    lambda: [p for p in base_items if p.profile_id == profile],
                )
        else:
            fn = self._embed_payment(ctx, fn)
        return paginate(
            ctx, items, what, fn, f"list-settlement-{what}", sortable=what == "payments"
        )

    # -- invoices -----------------------------------------------------------------------------
    def invoices(self, ctx: Ctx) -> dict:
        reference, year = ctx.params.get("reference"), ctx.params.get("year")
        if year is not None and not re.fullmatch(r"\d{4}", year):
            raise ApiError(400, "The year must be formatted as YYYY.", "year")
        items = ctx.idx.all("invoices")
        if reference or year:
            items = ctx.idx.filtered(
                ("invoices", reference, year),
                lambda: [
                    i
                    for i in ctx.idx.all("invoices")
                    if (not reference or i.reference == reference)
                    and (not year or i.year == int(year))
                ],
            )
        return paginate(
            ctx,
            items,
            "invoices",
            self._r(ctx, render.render_invoice),
            "list-invoices",
            sortable=True,
        )

    def invoice(self, ctx: Ctx, token: str) -> dict:
        return render.render_invoice(ctx.world, self._get(ctx, "invoice", token, "inv_"), ctx.base)

    # -- organization and profiles ------------------------------------------------------------
    def organization(self, ctx: Ctx, token: str) -> dict:
        org = ctx.world.organization
        if token not in ("me", org.id):
            raise not_found("organization", token)
        return render.render_organization(
            ctx.world, org, ctx.base, self_id="me" if token == "me" else None
        )

    def profiles(self, ctx: Ctx) -> dict:
        return paginate(
            ctx,
            ctx.idx.all("profiles"),
            "profiles",
            self._r(ctx, render.render_profile),
            "list-profiles",
        )

    def profile(self, ctx: Ctx, token: str) -> dict:
        if token == "me":
            if ctx.auth.kind != "profile":
                raise ApiError(400, "The current profile is only known for API keys.")
            token = ctx.auth.profile_id
        obj = ctx.world.by_id.get(token)
        if not isinstance(obj, Profile):
            raise not_found("profile", token)
        return render.render_profile(ctx.world, obj, ctx.base)

    # -- payments, refunds, chargebacks, captures -----------------------------------------------
    def _profiled(self, ctx: Ctx, kind: str) -> list[Any]:
        profile = self._profile_filter(ctx)
        if profile is None:
            return ctx.idx.all(kind)
        return ctx.idx.by(kind, "profile", profile)

    def payments(self, ctx: Ctx) -> dict:
        return paginate(
            ctx,
            self._profiled(ctx, "payments"),
            "payments",
            self._r(ctx, render.render_payment),
            "list-payments",
            sortable=True,
        )

    def payment(self, ctx: Ctx, token: str) -> dict:
        p = self._scoped(ctx, "payment", token, "tr_")
        out = render.render_payment(ctx.world, p, ctx.base)
        embed = [e for e in (ctx.params.get("embed") or "").split(",") if e]
        if embed:
            renderers = {
                "refunds": (p.refunds, render.render_refund),
                "chargebacks": (p.chargebacks, render.render_chargeback),
                "captures": (p.captures, render.render_capture),
            }
            embedded = {}
            for e in embed:
                if e not in renderers:
                    raise ApiError(400, f"Unsupported embed value '{e}'.", "embed")
                ids, fn = renderers[e]
                objs = sorted((ctx.world.by_id[x] for x in ids), key=_sort_key, reverse=True)
                embedded[e] = [fn(ctx.world, o, ctx.base) for o in objs]
            out["_embedded"] = embedded
        return out

    def payment_list(self, ctx: Ctx, token: str, what: str) -> dict:
        p = self._scoped(ctx, "payment", token, "tr_")
        ids = {"refunds": p.refunds, "chargebacks": p.chargebacks, "captures": p.captures}[what]
        items = _sorted(ctx.world.by_id[x] for x in ids)
        renderer = {
            "refunds": render.render_refund,
            "chargebacks": render.render_chargeback,
            "captures": render.render_capture,
        }[what]
        fn = self._embed_payment(ctx, self._r(ctx, renderer))
        return paginate(ctx, items, what, fn, f"list-{what}")

    def payment_child(self, ctx: Ctx, token: str, what: str, child: str) -> dict:
        p = self._scoped(ctx, "payment", token, "tr_")
        entity, _prefix, ids, renderer = {
            "refunds": ("refund", "re_", p.refunds, render.render_refund),
            "chargebacks": ("chargeback", "chb_", p.chargebacks, render.render_chargeback),
            "captures": ("capture", "cpt_", p.captures, render.render_capture),
        }[what]
        if child not in ids or ctx.auth.test:
            raise not_found(entity, child)
        return renderer(ctx.world, ctx.world.by_id[child], ctx.base)

    def refunds(self, ctx: Ctx) -> dict:
        fn = self._embed_payment(ctx, self._r(ctx, render.render_refund))
        return paginate(
            ctx, self._profiled(ctx, "refunds"), "refunds", fn, "list-all-refunds", sortable=True
        )

    def chargebacks(self, ctx: Ctx) -> dict:
        fn = self._embed_payment(ctx, self._r(ctx, render.render_chargeback))
        return paginate(
            ctx,
            self._profiled(ctx, "chargebacks"),
            "chargebacks",
            fn,
            "list-all-chargebacks",
            sortable=True,
        )

    # -- customers and subscriptions ----------------------------------------------------------
    def customers(self, ctx: Ctx) -> dict:
        items = (
            ctx.idx.by("customers", "profile", ctx.auth.profile_id)
            if ctx.auth.kind == "profile"
            else ctx.idx.all("customers")
        )
        return paginate(
            ctx,
            items,
            "customers",
            self._r(ctx, render.render_customer),
            "list-customers",
            sortable=True,
        )

    def customer(self, ctx: Ctx, token: str) -> dict:
        return render.render_customer(
            ctx.world, self._scoped(ctx, "customer", token, "cst_"), ctx.base
        )

    def customer_payments(self, ctx: Ctx, token: str) -> dict:
        c = self._scoped(ctx, "customer", token, "cst_")
        items = ctx.idx.by("payments", "customer", c.id)
        profile = self._profile_filter(ctx)
        if profile:
            base_items = items
            items = ctx.idx.filtered(
                ("customer-payments", c.id, profile),
                lambda: [p for p in base_items if p.profile_id == profile],
            )
        return paginate(
            ctx,
            items,
            "payments",
            self._r(ctx, render.render_payment),
            "list-customer-payments",
            sortable=True,
        )

    def customer_subscriptions(self, ctx: Ctx, token: str) -> dict:
        c = self._scoped(ctx, "customer", token, "cst_")
        items = ctx.idx.by("subscriptions", "customer", c.id)
        return paginate(
            ctx,
            items,
            "subscriptions",
            self._r(ctx, render.render_subscription),
            "list-subscriptions",
            sortable=True,
        )

    def _subscription(self, ctx: Ctx, cst: str, token: str) -> Any:
        c = self._scoped(ctx, "customer", cst, "cst_")
        s = self._get(ctx, "subscription", token, "sub_")
        if s.customer_id != c.id:
            raise not_found("subscription", token)
        return s

    def customer_subscription(self, ctx: Ctx, cst: str, token: str) -> dict:
        return render.render_subscription(ctx.world, self._subscription(ctx, cst, token), ctx.base)

    def subscription_payments(self, ctx: Ctx, cst: str, token: str) -> dict:
        s = self._subscription(ctx, cst, token)
        items = ctx.idx.by("payments", "subscription", s.id)
        return paginate(
            ctx,
            items,
            "payments",
            self._r(ctx, render.render_payment),
            "list-subscription-payments",
            sortable=True,
        )

    def subscriptions(self, ctx: Ctx) -> dict:
        return paginate(
            ctx,
            self._profiled(ctx, "subscriptions"),
            "subscriptions",
            self._r(ctx, render.render_subscription),
            "list-all-subscriptions",
        )


# -- HTTP ---------------------------------------------------------------------------------------


def _uniform(*parts: object) -> float:
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest) / 2**64


class _Faults:
    """Decides, deterministically, what happens to the n-th request for a target."""

    def __init__(self, config: FaultConfig) -> None:
        self.c = config
        self._lock = threading.Lock()
        self._attempts: Counter[str] = Counter()
        self._faults: Counter[str] = Counter()

    def decide(self, target: str) -> str | None:
        c = self.c
        if not c.active:
            return None
        with self._lock:
            attempt = self._attempts[target]
            self._attempts[target] += 1
            if self._faults[target] >= c.max_faults_per_url:
                return None
            roll = _uniform(c.seed, target, attempt)
            kind = None
            edge = 0.0
            for name, share in (
                ("rate_limit", c.rate_limit_share),
                ("server_error", c.server_error_share),
                ("drop", c.drop_share),
                ("slow", c.slow_share),
                ("truncate", c.truncate_share),
            ):
                edge += share
                if roll < edge:
                    kind = name
                    break
            if kind is not None:
                self._faults[target] += 1
            return kind

    def server_error_status(self, target: str) -> int:
        return (500, 502, 503)[int(_uniform(self.c.seed, target, "5xx") * 3)]


class _Handler(TrackedHandler):
    server_version = "MollieSandbox/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        if not self.server.owner.quiet:
            log.info("%s %s", self.address_string(), format % args)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # The request line carries no credentials (tokens travel in the Authorization header).
        if not self.server.owner.quiet:
            log.info('"%s" %s %s', self.requestline, code, size)

    # -- responses ----------------------------------------------------------------------------
    def _send(
        self,
        status: int,
        body: dict,
        headers: dict[str, str] | None = None,
        truncate: bool = False,
    ) -> None:
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", HAL)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if truncate:
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            # A truncated answer keeps the full Content-Length but stops halfway, then closes.
            self.wfile.write(data[: len(data) // 2] if truncate else data)

    def _error(self, err: ApiError) -> None:
        self._send(err.status, err.body(), err.headers)

    def _drop(self) -> None:
        self.close_connection = True
        try:  # RST instead of FIN: the client sees the connection torn down mid-request
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass

    def do_GET(self) -> None:
        owner = self.server.owner
        split = urlsplit(self.path)
        path = split.path
        owner._count(path, self.path)
        fault = None
        if path.startswith("/v2/") or path == "/v2":
            fault = owner._faults.decide(self.path)
            if fault == "rate_limit":
                retry = str(owner.faults.retry_after_seconds)
                self._error(
                    ApiError(
                        429,
                        "You have exceeded the rate limit. Please slow down your requests.",
                        headers={"Retry-After": retry},
                    )
                )
                return
            if fault == "server_error":
                status = owner._faults.server_error_status(self.path)
                self._error(
                    ApiError(status, "Something went wrong on our side. Please try again later.")
                )
                return
            if fault == "drop":
                self._drop()
                return
            if fault == "slow":
                time.sleep(owner.faults.slow_seconds)
        try:
            ctx = owner._context(self, path, split.query)
            body = owner.api.dispatch(ctx)
        except ApiError as err:
            self._error(err)
            return
        except Exception:  # a bug: answer like Mollie would, and keep serving
            log.exception("sandbox failed on %s", path)
            self._error(ApiError(500, "An internal error occurred in the sandbox."))
            return
        self._send(200, body, truncate=fault == "truncate")

    def do_HEAD(self) -> None:
        self.do_GET()

    def _read_only(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self._error(ApiError(405, f"The sandbox is read-only: {self.command} is not supported."))

    do_POST = do_PATCH = do_PUT = do_DELETE = _read_only


@dataclass(slots=True)
class _Served:
    """One organization's world as served: its config and index (both replaced by `advance`)
    and its profiles' API keys."""

    config: SandboxConfig
    index: Index
    profile_keys: dict[str, str] = field(default_factory=dict)
    profile_test_keys: dict[str, str] = field(default_factory=dict)


def _check_worlds(
    access_token: str, configs: Mapping[str, SandboxConfig], more: Mapping[str, SandboxConfig]
) -> None:
    """Each world needs its own organization token and its own seed: ids come from the seed,
    so two worlds of one seed would share ids and a token could reach the other's objects."""
    for token in configs:
        if not token.startswith("access_"):
            raise ValueError("an organization access token starts with 'access_'")
    if access_token in more:
        raise ValueError("each further world needs its own access token, not the main one")
    seeds: dict[int, str] = {}
    for n, c in enumerate(configs.values()):
        if c.seed in seeds:
            raise ValueError(
                f"two worlds share seed {c.seed} ({seeds[c.seed]} and world {n + 1}): their ids "
                "would collide; give each organization its own seed"
            )
        seeds[c.seed] = "the main world" if n == 0 else f"world {n + 1}"


def _key(seed: int, profile_id: str, mode: str) -> str:
    digest = hashlib.blake2b(f"{seed}:{profile_id}:{mode}".encode(), digest_size=15).hexdigest()
    return f"{mode}_{digest}"


class SandboxServer(BackgroundHTTPService):
    handler_class = _Handler
    thread_name = "sandbox"

    """The sandbox Mollie API on a real socket, in a background thread.

    `port=0` picks a free port; `base_url` is `http://HOST:PORT/v2`. Use as a context manager or
    call `start()` / `stop()`.
    """

    def __init__(
        self,
        config: SandboxConfig,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: FaultConfig | None = None,
        access_token: str = DEFAULT_ACCESS_TOKEN,
        quiet: bool = True,
        warm: bool = True,
        log_requests: bool = False,
        more_worlds: Mapping[str, SandboxConfig] | None = None,
    ) -> None:
        """`more_worlds` (organization access token → its world's config) serves further
        organizations beside the main one (`config`, `access_token`): a request sees only the
        world of the token it carries, as each Mollie organization sees only its own data."""
        configs = {access_token: config, **(more_worlds or {})}
        _check_worlds(access_token, configs, more_worlds or {})
        super().__init__(host, port)
        self.faults = faults or FaultConfig()
        self.access_token = access_token
        self.quiet = quiet
        self.warm = warm
        self.api = Api()
        self._served = {token: _Served(c, Index(build_world(c))) for token, c in configs.items()}
        self._main = self._served[access_token]
        self._faults = _Faults(self.faults)
        self._count_lock = threading.Lock()
        self.request_count: Counter[str] = Counter()
        # Every request target (path and query) in order, when asked for: the benchmark replays
        # exactly the pages an extract fetched. Off by default, so a long-running sandbox
        # does not grow.
        self.request_log: list[str] | None = [] if log_requests else None
        self._set_keys()

    def _set_keys(self) -> None:
        # One lookup per request finds both the credentials and the world they belong to.
        self._tokens: dict[str, tuple[Auth, _Served]] = {}
        for access_token, served in self._served.items():
            seed = served.config.seed
            profiles = [p.id for p in served.index.world.profiles]
            served.profile_keys = {p: _key(seed, p, "live") for p in profiles}
            served.profile_test_keys = {p: _key(seed, p, "test") for p in profiles}
            self._tokens[access_token] = (Auth("organization", None, False), served)
            for p, k in served.profile_keys.items():
                self._tokens[k] = (Auth("profile", p, False), served)
            for p, k in served.profile_test_keys.items():
                self._tokens[k] = (Auth("profile", p, True), served)
        self.profile_keys: dict[str, str] = self._main.profile_keys
        self.profile_test_keys: dict[str, str] = self._main.profile_test_keys

    def profile_keys_of(self, access_token: str, *, test: bool = False) -> dict[str, str]:
        """Profile id → API key (live, or test with `test=True`) of the world served under
        `access_token`; those keys open only that world."""
        served = self._served[access_token]
        return dict(served.profile_test_keys if test else served.profile_keys)

    # -- lifecycle ----------------------------------------------------------------------------
    @property
    def config(self) -> SandboxConfig:
        return self._main.config

    @property
    def world(self) -> World:
        return self._main.index.world

    @property
    def worlds(self) -> dict[str, World]:
        """Organization access token → its world, the main one first."""
        return {token: served.index.world for token, served in self._served.items()}

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v2"

    def start(self) -> SandboxServer:
        return super().start()

    def _started(self) -> None:
        if self.warm:
            for served in self._served.values():
                self._warm_up(served.index)
        log.info("Mollie sandbox serving %s", self.base_url)

    @staticmethod
    def _warm_up(index: Index) -> None:
        threading.Thread(target=index.warm, name="sandbox-warm-up", daemon=True).start()

    def advance(self, now: str | int) -> World:
        """Move the clock of every world: same seeds and history, a later `now` (new activity,
        new statuses). Returns the main world."""
        moved = []
        for served in self._served.values():
            config = served.config.advanced(now)
            index = Index(build_world(config))
            if self.warm:
                index.warm()  # before the swap: no request waits on the new world's lists
            moved.append((served, config, index))
        for served, config, index in moved:
            served.config, served.index = config, index
        return self.world

    # -- per request ----------------------------------------------------------------------------
    def _count(self, path: str, target: str) -> None:
        with self._count_lock:
            self.request_count[path] += 1
            if self.request_log is not None:
                self.request_log.append(target)

    def _context(self, handler: _Handler, path: str, query: str) -> Ctx:
        header = handler.headers.get("Authorization") or ""
        scheme, _, token = header.partition(" ")
        found = self._tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if found is None:
            raise ApiError(401, "Missing authentication, or failed to authenticate", docs=AUTH_DOCS)
        auth, served = found
        pairs = parse_qsl(query, keep_blank_values=True)
        params = dict(pairs)
        if "testmode" in params:
            if auth.kind == "profile":
                raise ApiError(
                    400,
                    "The testmode parameter is not allowed with API keys: the "
                    "key itself determines the mode.",
                    "testmode",
                )
            value = params["testmode"]
            if value not in ("true", "True", "1", "false", "False", "0"):
                raise ApiError(400, "The testmode parameter must be true or false.", "testmode")
            if value in ("true", "True", "1"):
                auth = Auth(auth.kind, auth.profile_id, True)
        proto = handler.headers.get("X-Forwarded-Proto") or "http"
        host = handler.headers.get("Host") or f"{self.host}:{self.port}"
        return Ctx(
            idx=served.index,
            auth=auth,
            origin=f"{proto}://{host}",
            path=path,
            raw_query=query,
            params=params,
            pairs=pairs,
        )


def serve_forever(
    config: SandboxConfig,
    host: str = "127.0.0.1",
    port: int = 8765,
    faults: FaultConfig | None = None,
    access_token: str = DEFAULT_ACCESS_TOKEN,
    quiet: bool = False,
    on_ready: Callable[[SandboxServer], None] | None = None,
) -> None:
    """Run the sandbox in the foreground until interrupted (for the CLI)."""
    server = SandboxServer(
        config, host=host, port=port, faults=faults, access_token=access_token, quiet=quiet
    )
    server.start()
    try:
        if on_ready is not None:
            on_ready(server)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
