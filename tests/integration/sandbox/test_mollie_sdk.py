"""Mollie's own Python SDKs, pointed at the sandbox, page through every finance list.

- `mollie-api-python` (legacy, hand-written): `Client(api_endpoint=...)`; it follows the
  `_links.next.href` it is given, so hrefs must use the client's own host and port.
- `mollie-api-py` (Speakeasy, generated from the OpenAPI spec): validates every response with
  pydantic, so it catches missing required fields, wrong types and bad enums.

Both SDKs install into the same `mollie` package and the legacy one ships an empty
`mollie/__init__.py`, so the Speakeasy classes are imported from their modules. In
mollie-api-py 1.10.x the organization token goes in `Security(advanced_access_token=...)` (an
unknown keyword such as `organization_access_token` is silently dropped → 401).
"""

from __future__ import annotations

from collections import Counter

import pytest
from mollie.api.client import Client
from mollie.models import Security
from mollie.sdk import ClientSDK

from sandbox.generate import SandboxConfig
from sandbox.server import DEFAULT_ACCESS_TOKEN, SandboxServer

CONFIG = SandboxConfig.from_cli(seed=7, payments=600, days=45, now="2026-11-01T00:00:00Z")
REPORT = {"from": "2026-10-01", "until": "2026-11-01"}


@pytest.fixture(scope="module")
def server():
    with SandboxServer(CONFIG) as s:
        yield s


# -- mollie-api-python ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def legacy(server):
    client = Client(api_endpoint=f"http://127.0.0.1:{server.port}")
    client.set_access_token(DEFAULT_ACCESS_TOKEN)
    return client


def every(page) -> list:
    """All objects of a PaginationList, following next links."""
    out = []
    while True:
        out.extend(page)
        if not page.has_next():
            return out
        page = page.get_next()


def ids(objs) -> list[str]:
    found = [o.id for o in objs]
    assert len(found) == len(set(found)), "duplicates across pages"
    return found


def test_legacy_balances_transactions_and_report(server, legacy):
    w = server.world
    balances = every(legacy.balances.list(limit=1))
    assert set(ids(balances)) == {b.id for b in w.balances}
    for b in balances:
        assert b.currency and b.available_amount["value"]
        rows = every(b.get_transactions(limit=250))
        assert len(ids(rows)) == sum(r.balance_id == b.id for r in w.transactions)
        for grouping in ("status-balances", "transaction-categories"):
            report = b.get_report(**REPORT, grouping=grouping)
            assert report.resource == "balance-report" and report.totals
    primary = legacy.balances.get("primary")
    assert primary.id == w.balances[0].id
    assert legacy.balances.get(w.balances[1].id).currency == w.balances[1].currency


def test_legacy_settlements(server, legacy):
    w = server.world
    settlements = every(legacy.settlements.list(limit=50))
    assert set(ids(settlements)) == {s.id for s in w.settlements}
    richest = max(
        w.settlements,
        key=lambda s: (
            len(s.payment_ids) + len(s.refund_ids) + len(s.chargeback_ids) + len(s.capture_ids)
        ),
    )
    s = legacy.settlements.get(richest.id)
    assert s.reference == richest.reference and s.status in ("paidout", "pending")
    assert legacy.settlements.get(richest.reference).id == richest.id
    assert len(ids(every(s.payments.list(limit=250)))) == len(richest.payment_ids)
    assert len(ids(every(s.refunds.list(limit=250)))) == len(richest.refund_ids)
    assert len(ids(every(s.chargebacks.list(limit=250)))) == len(richest.chargeback_ids)
    assert len(ids(every(s.captures.list(limit=250)))) == len(richest.capture_ids)
    # Every settlement's four sub-lists are readable, whichever are empty.
    totals = Counter()
    for stl in settlements:
        for kind in ("payments", "refunds", "chargebacks", "captures"):
            totals[kind] += len(every(getattr(stl, kind).list(limit=250)))
    assert totals["payments"] == sum(len(x.payment_ids) for x in w.settlements)
    assert totals["chargebacks"] == sum(len(x.chargeback_ids) for x in w.settlements)
    with_invoice = next(x for x in settlements if x.get("invoiceId"))
    assert with_invoice.get_invoice().id == with_invoice["invoiceId"]
    for kind in ("open", "next"):
        pending = legacy.settlements.get(kind)
        assert pending.id == kind and pending.is_open()
        every(pending.payments.list(limit=250))


def test_legacy_invoices(server, legacy):
    invoices = every(legacy.invoices.list(limit=2))
    assert len(ids(invoices)) == len(server.world.invoices)
    inv = legacy.invoices.get(invoices[0].id)
    assert inv.reference == invoices[0].reference and inv.lines


def test_legacy_payments_refunds_chargebacks(server, legacy):
    w = server.world
    payments = every(legacy.payments.list(limit=250))
    assert len(ids(payments)) == len(w.payments)
    assert len(ids(every(legacy.refunds.list(limit=250)))) == len(w.refunds)
    chargebacks = every(legacy.chargebacks.list(limit=250))
    assert len(ids(chargebacks)) == len(w.chargebacks)
    settled = [c for c in chargebacks if c.settlement_id]
    assert settled and all(c.settlement_id.startswith("stl_") for c in settled)
    p = legacy.payments.get(next(c.payment_id for c in w.chargebacks))
    assert p.is_paid() and p.chargebacks.list().count >= 1
    captured = legacy.payments.get(w.captures[0].payment_id)
    assert every(captured.captures.list())[0].id == w.captures[0].id


def test_legacy_customers_and_subscriptions(server, legacy):
    w = server.world
    customers = every(legacy.customers.list(limit=250))
    assert len(ids(customers)) == len(w.customers)
    subscriptions = every(legacy.subscriptions.list(limit=250))
    assert len(ids(subscriptions)) == len(w.subscriptions)
    sub = next(s for s in subscriptions if w.by_id[s.id].charges)
    assert sub.customer_id == w.by_id[sub.id].customer_id
    assert len(every(sub.payments.list())) == len(w.by_id[sub.id].charges)
    customer = legacy.customers.get(sub.customer_id)
    assert every(customer.subscriptions.list())
    assert every(customer.payments.list())


def test_legacy_organization(server, legacy):
    org = legacy.organizations.get("me")
    assert org.id == server.world.organization.id and org.name
    assert legacy.organizations.get(org.id).id == org.id


# -- mollie-api-py (Speakeasy) ------------------------------------------------------------------


@pytest.fixture(scope="module")
def sdk(server):
    with ClientSDK(
        server_url=f"http://127.0.0.1:{server.port}",
        security=Security(advanced_access_token=DEFAULT_ACCESS_TOKEN),
    ) as client:
        yield client


def pages(response, key: str) -> list:
    """Every object across a Speakeasy list response's pages (validated by pydantic)."""
    out = []
    while response is not None:
        out.extend(getattr(response.result.embedded, key))
        response = response.next()
    return out


def test_speakeasy_balances_and_transactions(server, sdk):
    w = server.world
    balances = pages(sdk.balances.list(limit=1), "balances")
    assert {b.id for b in balances} == {b.id for b in w.balances}
    assert sdk.balances.get_primary().id == w.balances[0].id
    for b in balances:
        assert sdk.balances.get(balance_id=b.id).currency == b.currency
        rows = pages(
            sdk.balances.list_transactions(balance_id=b.id, limit=250), "balance_transactions"
        )
        assert len({r.id for r in rows}) == sum(r.balance_id == b.id for r in w.transactions)
        for grouping in ("status-balances", "transaction-categories"):
            report = sdk.balances.get_report(
                balance_id=b.id, from_=REPORT["from"], until=REPORT["until"], grouping=grouping
            )
            assert report.balance_id == b.id


def test_speakeasy_settlements(server, sdk):
    w = server.world
    settlements = pages(sdk.settlements.list(limit=25), "settlements")
    assert {s.id for s in settlements} == {s.id for s in w.settlements}
    s = max(w.settlements, key=lambda s: len(s.payment_ids))
    assert sdk.settlements.get(settlement_id=s.reference).id == s.id
    assert len(
        pages(sdk.settlements.list_payments(settlement_id=s.id, limit=250), "payments")
    ) == len(s.payment_ids)
    for kind, call in (
        ("refunds", sdk.settlements.list_refunds),
        ("chargebacks", sdk.settlements.list_chargebacks),
        ("captures", sdk.settlements.list_captures),
    ):
        stl = max(w.settlements, key=lambda x, k=kind: len(getattr(x, f"{k[:-1]}_ids")))
        got = pages(call(settlement_id=stl.id, limit=250), kind)
        assert len(got) == len(getattr(stl, f"{kind[:-1]}_ids")) > 0
    assert sdk.settlements.get_open().id == "open"
    assert sdk.settlements.get_next().id == "next"


def test_speakeasy_payments_and_more(server, sdk):
    w = server.world
    assert len(pages(sdk.payments.list(limit=250), "payments")) == len(w.payments)
    one = sdk.payments.get(payment_id=w.chargebacks[0].payment_id)
    assert one.id == w.chargebacks[0].payment_id
    assert len(pages(sdk.refunds.all(limit=250), "refunds")) == len(w.refunds)
    assert len(pages(sdk.chargebacks.all(limit=250), "chargebacks")) == len(w.chargebacks)
    assert len(pages(sdk.invoices.list(limit=250), "invoices")) == len(w.invoices)
    assert len(pages(sdk.customers.list(limit=250), "customers")) == len(w.customers)
    assert len(pages(sdk.subscriptions.all(limit=250), "subscriptions")) == len(w.subscriptions)
    assert len(pages(sdk.profiles.list(limit=250), "profiles")) == len(w.profiles)
    assert sdk.organizations.get_current().id == w.organization.id
