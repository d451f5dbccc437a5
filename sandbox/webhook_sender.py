"""The sandbox as a webhook *sender*: Mollie's next-gen events (signed) and classic id-only calls.

    old = server.world
    new = server.advance("2026-11-02T00:00:00Z")
    send_changes(receiver_url, secret, old, new, base=server.base_url)

Next-gen payloads follow Mollie's shape (tests/fixtures/mollie_samples/mollie-api-php/
webhook-event.json): `{"resource": "event", "id": "whe_…", "type", "entityId", "createdAt",
"_embedded": {"entity": {…}}, "_links": {…}}`, the entity rendered by `sandbox.render` exactly as
the API serves it, and `X-Mollie-Signature: sha256=<hex>` over the raw body.

The signing is written out here rather than imported from the receiver (`extract.webhooks`) on
purpose: the sandbox plays Mollie, and a receiver bug shared with its own test sender would pass.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Collection, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from sandbox import render
from sandbox.clock import iso
from sandbox.generate import IdMaker, World
from sandbox.model import BalanceTransaction, Capture, Chargeback, Payment, Refund, Settlement

USER_AGENT = "Mollie HTTP client/1.0"
API = "https://api.mollie.com/v2"
DOCS = "https://docs.mollie.com/reference/v2/webhook-events-api/get-webhook-event"

# Deterministic event ids: the same change always gets the same id, so sending it twice is a
# replay (as when Mollie retries a delivery), not two events.
_event_id = IdMaker(0)


# -- building and signing ---------------------------------------------------------------------


def signature(body: bytes, secret: str) -> str:
    """The `X-Mollie-Signature` value: `sha256=` + hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def event_payload(
    entity: dict[str, Any],
    type: str,
    created_at: str | None = None,
    event_id: str | None = None,
    embed: bool = True,
) -> dict[str, Any]:
    """A next-gen event about a rendered Mollie object. `embed=False` is Mollie's "simple"
    payload: the entity id only, `_embedded` null."""
    entity_id = entity["id"]
    event_id = event_id or _event_id("whe", f"{type}:{entity_id}")
    created = created_at or datetime.now(UTC).isoformat(timespec="seconds")
    return {
        "resource": "event",
        "id": event_id,
        "type": type,
        "entityId": entity_id,
        "createdAt": created,
        "_embedded": {"entity": entity} if embed else None,
        "_links": {
            "self": render.link(f"{API}/webhook-events/{event_id}"),
            "documentation": render.link(DOCS, render.HTML),
        },
    }


def encode(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent (and signed)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


# -- sending ----------------------------------------------------------------------------------


def _post(
    url: str, content: bytes, headers: dict[str, str], client: httpx.Client | None
) -> httpx.Response:
    headers = {"User-Agent": USER_AGENT, **headers}
    if client is not None:
        return client.post(url, content=content, headers=headers)
    return httpx.post(url, content=content, headers=headers, timeout=10)


def send_event(
    url: str,
    secret: str,
    entity: dict[str, Any],
    type: str,
    *,
    created_at: str | None = None,
    event_id: str | None = None,
    embed: bool = True,
    client: httpx.Client | None = None,
) -> httpx.Response:
    """POST a signed next-gen event about `entity` (a rendered object, see `render_entity`)."""
    body = encode(event_payload(entity, type, created_at, event_id, embed))
    headers = {"Content-Type": "application/json", "X-Mollie-Signature": signature(body, secret)}
    return _post(url, body, headers, client)


def send_classic(url: str, entity_id: str, *, client: httpx.Client | None = None) -> httpx.Response:
    """POST a classic webhook: form body `id=…`, no signature, no status."""
    body = f"id={entity_id}".encode()
    return _post(url, body, {"Content-Type": "application/x-www-form-urlencoded"}, client)


# -- what changed between two worlds ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tracked:
    """One kind of object whose state changes raise events: `<event>.<state>`."""

    event: str  # the event type prefix
    model: type
    objects: Callable[[World], list[Any]]
    state: Callable[[World, Any], str | None]  # None: no event for this state
    renderer: Callable[[World, Any, str], dict[str, Any]]


def _refund_state(world: World, r: Refund) -> str:
    return render.refund_status(world, r)


def _chargeback_state(world: World, c: Chargeback) -> str:
    return "reversed" if render.render_chargeback(world, c, API)["reversedAt"] else "received"


def _payout_state(world: World, s: Settlement) -> str | None:
    # A settlement is the sandbox's payout: created when the balance pays out, "paidout" once
    # the transfer lands, "failed" when the bank returned it or it was canceled after it was
    # initiated (Mollie's `payout.failed`: "failed after creation, including bank rejections and
    # post-submission cancellations"; `payout.canceled` is only for a payout canceled before it
    # was submitted, which automatic payouts never are). The settlement stands in for the payout.
    status = render.render_settlement(world, s, API)["status"]
    return {"pending": "initiated", "paidout": "completed", "failed": "failed"}.get(status)


TRACKED: tuple[Tracked, ...] = (
    Tracked("payment", Payment, lambda w: w.payments, render.payment_status, render.render_payment),
    Tracked("refund", Refund, lambda w: w.refunds, _refund_state, render.render_refund),
    Tracked(
        "chargeback",
        Chargeback,
        lambda w: w.chargebacks,
        _chargeback_state,
        render.render_chargeback,
    ),
    Tracked(
        "capture", Capture, lambda w: w.captures, lambda w, c: "succeeded", render.render_capture
    ),
    Tracked(
        "balance-transaction",
        BalanceTransaction,
        lambda w: w.transactions,
        lambda w, r: "created",
        render.render_balance_transaction,
    ),
    Tracked("payout", Settlement, lambda w: w.settlements, _payout_state, render.render_settlement),
)

# The next-gen event types Mollie sends for these objects (Mollie's webhook documentation); other
# states (a payment still "open", a refund "queued" here) raise none.
EVENT_TYPES = frozenset(
    {
        "payment.paid",
        "payment.authorized",
        "payment.failed",
        "payment.canceled",
        "payment.expired",
        "payment.pending",
        "refund.pending",
        "refund.refunded",
        "refund.failed",
        "chargeback.received",
        "chargeback.reversed",
        "capture.succeeded",
        "balance-transaction.created",
        "payout.initiated",
        "payout.completed",
        "payout.failed",
    }
)


@dataclass(frozen=True, slots=True)
class Change:
    type: str  # e.g. "payment.paid"
    entity: dict[str, Any]  # rendered in the new world


def changes(
    old: World, new: World, base: str = API, types: Collection[str] | None = None
) -> Iterator[Change]:
    """The events Mollie would send between `old.now` and `new.now` (same seed, later now).

    One per object whose state differs, for its state in `new` (an object created and settled
    within the step yields its latest state only). `types` narrows to some event types.
    """
    wanted = EVENT_TYPES if types is None else EVENT_TYPES & set(types)
    for t in TRACKED:
        for obj in t.objects(new):
            state = t.state(new, obj)
            type_ = f"{t.event}.{state}"
            if state is None or type_ not in wanted:
                continue
            before = old.by_id.get(obj.id)
            if before is not None and t.state(old, before) == state:
                continue
            yield Change(type_, t.renderer(new, obj, base))


def send_changes(
    url: str,
    secret: str,
    old: World,
    new: World,
    *,
    base: str = API,
    types: Collection[str] | None = None,
    client: httpx.Client | None = None,
) -> list[tuple[Change, httpx.Response]]:
    """Send one signed event per change (dated `new.now`); returns what went and the answers."""
    created = iso(new.now)
    with ExitStack() as stack:
        if client is None:  # one connection for the batch, not one client per event
            client = stack.enter_context(httpx.Client(timeout=10))
        return [
            (c, send_event(url, secret, c.entity, c.type, created_at=created, client=client))
            for c in changes(old, new, base, types)
        ]


def render_entity(world: World, obj: Any, base: str = API) -> dict[str, Any]:
    """A world object events are sent about, as the API renders it (for `send_event`)."""
    for t in TRACKED:
        if isinstance(obj, t.model):
            return t.renderer(world, obj, base)
    raise TypeError(f"the sandbox sends no events about {type(obj).__name__}")
