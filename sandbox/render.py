"""World records → Mollie API v2 JSON objects, exactly as Mollie sends them.

Length: one renderer per Mollie resource (payments, refunds, chargebacks, captures, customers,
subscriptions, balances, transactions, settlements, invoices, profiles, organizations), kept
together because they share the derived per-world state and the link conventions.

Pure functions of (world, record, base): `base` is the API root the links point at
(`http://host:port/v2`, built from the request's own Host header), and every state that changes
over time (status, amountRefunded, settlementId, availableAmount, …) is derived from the record's
lifecycle timestamps at `world.now`. Field names, enums, id prefixes, `_links` and `resource`
values follow Mollie's API reference and its sample responses (tests/fixtures/mollie_samples/).

A few derived values need a pass over the whole ledger (balance totals, which invoice covers a
settlement month); they are computed once per world and cached on it (`_derived`).
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

from sandbox.clock import add_months, iso, local_date
from sandbox.generate import World
from sandbox.model import (
    Balance,
    BalanceTransaction,
    Capture,
    Chargeback,
    Customer,
    Invoice,
    Organization,
    Payment,
    Profile,
    Refund,
    Settlement,
    Subscription,
)
from sandbox.money import amount
from sandbox.people import BICS, DEBIT_FAILURE_REASONS, make_person

HAL = "application/hal+json"
HTML = "text/html"
DOCS = "https://docs.mollie.com/reference"
DASHBOARD = "https://my.mollie.com/dashboard"
MODE = "live"

BALANCE_DESCRIPTIONS = {"EUR": "Primary balance", "GBP": "GBP balance"}


# Settlement periods use Mollie's settlement-method enum, which has no `applepay`: Apple Pay is
# processed (and settled) as a card payment, so its lines are reported under `creditcard`.
def link(href: str, type_: str = HAL) -> dict[str, str]:
    return {"href": href, "type": type_}


def doc(page: str) -> dict[str, str]:
    return link(f"{DOCS}/{page}", HTML)


# -- derived, cached per world ----------------------------------------------------------------


class _Derived:
    """Whole-world aggregates the renderers need, computed once per world on first use."""

    def __init__(self, world: World) -> None:
        now = world.now
        self.available: dict[str, int] = dict.fromkeys((b.id for b in world.balances), 0)
        self.pending: dict[str, int] = dict.fromkeys((b.id for b in world.balances), 0)
        for r in world.transactions:
            if r.available_at <= now:
                self.available[r.balance_id] += r.result
            else:
                self.pending[r.balance_id] += r.result
        # The fee invoice of a balance's month, once issued (a world only holds issued invoices).
        self.invoice_of_month: dict[tuple[str, int, int], Invoice] = {
            (i.balance_id, i.year, i.month): i for i in world.invoices if i.issued_at <= now
        }


def derived(world: World) -> _Derived:
    cache = world.__dict__.get("_derived")
    if cache is None:
        cache = world.__dict__["_derived"] = _Derived(world)
    return cache


def _row_settlement(world: World, transaction_id: str | None) -> str | None:
    """The settlement that swept a ledger row, if any."""
    if transaction_id is None:
        return None
    row = world.by_id.get(transaction_id)
    return row.settlement_id if row is not None else None


def _day(epoch: int) -> str:
    return local_date(epoch).isoformat()


# -- payments and their children ------------------------------------------------------------


def payment_status(world: World, p: Payment) -> str:
    now = world.now
    if now < p.final_at:
        if p.capture_mode == "manual" and now >= p.authorized_at:
            return "authorized"
        return "pending" if p.method == "directdebit" else "open"
    if now >= p.debit_failed_at:
        return "failed"  # the debtor's bank returned the credited debit (`failed-payment`)
    return p.final_status


def bank_reason(p: Payment) -> tuple[str, str]:
    """The SEPA reason a failed direct debit carries (`details.bankReasonCode`, `bankReason`),
    drawn from the payment id so it never changes."""
    digest = hashlib.blake2b(f"bank-reason:{p.id}".encode(), digest_size=4).digest()
    return DEBIT_FAILURE_REASONS[int.from_bytes(digest) % len(DEBIT_FAILURE_REASONS)]


def _holder_name(p: Payment) -> str:
    if p.consumer_name:
        return p.consumer_name
    return make_person(random.Random(p.id))[0]


def _fee_region(p: Payment) -> str:
    if p.card_label == "American Express":
        return "american-express"
    return "intra-eu" if p.country_code != "GB" else "other"


def _payment_details(p: Payment, status: str) -> dict[str, Any] | None:
    if status not in ("paid", "authorized", "pending") and not (
        status == "failed" and p.method == "directdebit"
    ):
        return None
    if p.method in ("ideal", "bancontact", "directdebit") and p.consumer_account:
        bic = BICS.get(p.consumer_account[4:8])
        details: dict[str, Any] = {
            "consumerName": p.consumer_name,
            "consumerAccount": p.consumer_account,
            "consumerBic": bic,
        }
        if status == "failed":  # Mollie's docs: only on a failed direct debit
            details["bankReasonCode"], details["bankReason"] = bank_reason(p)
        return details
    if p.method in ("creditcard", "applepay") and p.card_number:
        return {
            "cardHolder": _holder_name(p),
            "cardNumber": p.card_number,
            "cardLabel": p.card_label,
            "cardCountryCode": p.country_code,
            "cardSecurity": "normal",
            "feeRegion": _fee_region(p),
        }
    if p.method == "paypal":
        return {"consumerName": _holder_name(p), "paypalReference": paypal_reference(p.id)}
    return None


# PayPal's transaction ids as Mollie shows them ("9AL35361CF606152E"): 17 characters, letters at
# fixed places. A digits-only reference (an earlier hex rendering, ~1 in 2,000) could look like a
# full card number to the privacy gate, which no real PayPal reference does.
_PAYPAL_SHAPE = "DLLDDDDDLLDDDDDDL"  # D: digit, L: letter
_LETTERS = "ABCDEFGHJKLMNPRSTUVWXY"


def paypal_reference(payment_id: str) -> str:
    """A deterministic PayPal reference for a payment, shaped like PayPal's own."""
    digest = hashlib.blake2b(payment_id.encode(), digest_size=len(_PAYPAL_SHAPE)).digest()
    return "".join(
        _LETTERS[b % len(_LETTERS)] if kind == "L" else str(b % 10)
        for kind, b in zip(_PAYPAL_SHAPE, digest, strict=True)
    )


def render_payment(world: World, p: Payment, base: str) -> dict[str, Any]:
    now = world.now
    status = payment_status(world, p)
    cur = p.currency
    obj: dict[str, Any] = {
        "resource": "payment",
        "id": p.id,
        "mode": MODE,
        "createdAt": iso(p.created_at),
        "amount": amount(p.amount, cur),
        "description": p.description,
        "method": p.method,
        "metadata": None,
        "status": status,
        "isCancelable": False,
        "profileId": p.profile_id,
        "sequenceType": p.sequence_type,
        "countryCode": p.country_code,
    }
    if p.sequence_type != "recurring":
        profile = world.by_id.get(p.profile_id)
        site = profile.website if profile is not None else "https://shop.example"
        obj["redirectUrl"] = f"{site}/order/{p.id[3:]}"
    obj["webhookUrl"] = f"https://hooks.groenevork.example/mollie/{p.sequence_type}"
    if p.capture_mode is not None:
        obj["captureMode"] = p.capture_mode
        if status == "authorized":
            obj["captureBefore"] = iso(p.authorized_at + 28 * 86_400)
    else:
        obj["captureMode"] = "automatic"
    if status == "open":
        obj["expiresAt"] = iso(p.final_at if p.final_status == "expired" else p.created_at + 3600)
    if p.customer_id:
        obj["customerId"] = p.customer_id
    if p.mandate_id:
        obj["mandateId"] = p.mandate_id
    if p.subscription_id:
        obj["subscriptionId"] = p.subscription_id

    refunds = [world.by_id[x] for x in p.refunds]
    chargebacks = [world.by_id[x] for x in p.chargebacks]
    captures = [world.by_id[x] for x in p.captures]
    settlement_id = None
    if status == "paid":
        # A refund the customer's bank sent back (status failed) no longer counts as refunded.
        refunded = sum(r.amount for r in refunds if r.returned_at > now)
        charged_back = sum(c.amount for c in chargebacks)
        obj["amountRefunded"] = amount(refunded, cur)
        obj["amountRemaining"] = amount(max(0, p.amount - refunded - charged_back), cur)
        if chargebacks:
            obj["amountChargedBack"] = amount(charged_back, cur)
        if captures:
            obj["amountCaptured"] = amount(sum(c.amount for c in captures), cur)
        obj["settlementAmount"] = amount(p.amount, cur)
        settlement_id = _row_settlement(world, p.transaction_id)
        if settlement_id:
            obj["settlementId"] = settlement_id
    elif status == "authorized":
        obj["amountCaptured"] = amount(0, cur)
    elif status == "failed" and p.paid_at <= now:
        # A returned direct debit: its credit (and the failed-payment row) stay on the ledger,
        # so the settlement that swept the credit still names it.
        settlement_id = _row_settlement(world, p.transaction_id)
        if settlement_id:
            obj["settlementId"] = settlement_id

    if p.authorized_at <= now:
        obj["authorizedAt"] = iso(p.authorized_at)
    if now >= p.final_at:
        key = {
            "paid": "paidAt",
            "failed": "failedAt",
            "expired": "expiredAt",
            "canceled": "canceledAt",
        }.get(p.final_status)
        if key:
            obj[key] = iso(p.final_at)
    if p.debit_failed_at <= now:
        obj["failedAt"] = iso(p.debit_failed_at)
    obj["details"] = _payment_details(p, status)

    links: dict[str, Any] = {
        "self": link(f"{base}/payments/{p.id}"),
        "dashboard": link(f"{DASHBOARD}/{world.organization.id}/payments/{p.id}", HTML),
    }
    if status == "open" and p.method != "directdebit":
        links["checkout"] = link(f"https://www.mollie.com/checkout/select-method/{p.id[3:]}", HTML)
    if refunds:
        links["refunds"] = link(f"{base}/payments/{p.id}/refunds")
    if chargebacks:
        links["chargebacks"] = link(f"{base}/payments/{p.id}/chargebacks")
    if captures:
        links["captures"] = link(f"{base}/payments/{p.id}/captures")
    if settlement_id:
        links["settlement"] = link(f"{base}/settlements/{settlement_id}")
    if p.customer_id:
        links["customer"] = link(f"{base}/customers/{p.customer_id}")
        if p.mandate_id:
            links["mandate"] = link(f"{base}/customers/{p.customer_id}/mandates/{p.mandate_id}")
        if p.subscription_id:
            links["subscription"] = link(
                f"{base}/customers/{p.customer_id}/subscriptions/{p.subscription_id}"
            )
    links["documentation"] = doc("get-payment")
    obj["_links"] = links
    return obj


def refund_status(world: World, r: Refund) -> str:
    now = world.now
    if now < r.processed_at:
        return "pending"
    # Mollie's refund statuses: "failed: the refund has failed after processing (e.g. the
    # customer closed the account); the funds are returned to your account" (`returned-refund`).
    return "failed" if now >= r.returned_at else "refunded"


def render_refund(world: World, r: Refund, base: str) -> dict[str, Any]:
    status = refund_status(world, r)
    obj: dict[str, Any] = {
        "resource": "refund",
        "id": r.id,
        "mode": MODE,
        "description": r.description,
        "amount": amount(r.amount, r.currency),
        "settlementAmount": amount(-r.amount, r.currency),
        "status": status,
        "createdAt": iso(r.created_at),
        "metadata": None,
        "paymentId": r.payment_id,
    }
    settlement_id = _row_settlement(world, r.transaction_id)
    if settlement_id:
        obj["settlementId"] = settlement_id
    obj["_links"] = _payment_child_links(base, "refunds", r.payment_id, r.id, settlement_id)
    return obj


def _payment_child_links(
    base: str, kind: str, payment_id: str, child_id: str, settlement_id: str | None
) -> dict[str, Any]:
    """A refund's or capture's _links: a settlement link only once one swept it."""
    links = {
        "self": link(f"{base}/payments/{payment_id}/{kind}/{child_id}"),
        "payment": link(f"{base}/payments/{payment_id}"),
    }
    if settlement_id:
        links["settlement"] = link(f"{base}/settlements/{settlement_id}")
    links["documentation"] = doc("get-" + kind.removesuffix("s"))
    return links


def render_chargeback(world: World, c: Chargeback, base: str) -> dict[str, Any]:
    settlement_id = _row_settlement(world, c.transaction_id)
    obj: dict[str, Any] = {
        "resource": "chargeback",
        "id": c.id,
        "amount": amount(c.amount, c.currency),
        "settlementAmount": amount(-c.amount, c.currency),
        "reason": (
            {"code": c.reason_code, "description": c.reason_description} if c.reason_code else None
        ),
        "paymentId": c.payment_id,
        "createdAt": iso(c.created_at),
        "reversedAt": iso(c.reversed_at) if c.reversed_at <= world.now else None,
    }
    if settlement_id:
        obj["settlementId"] = settlement_id
    obj["_links"] = {
        "self": link(f"{base}/payments/{c.payment_id}/chargebacks/{c.id}"),
        "payment": link(f"{base}/payments/{c.payment_id}"),
        # The legacy SDK parses Chargeback.settlement_id out of this link.
        "settlement": link(f"{base}/settlements/{settlement_id}") if settlement_id else None,
        "documentation": doc("get-chargeback"),
    }
    return obj


def render_capture(world: World, c: Capture, base: str) -> dict[str, Any]:
    settlement_id = _row_settlement(world, c.transaction_id)
    payment = world.by_id.get(c.payment_id)
    obj: dict[str, Any] = {
        "resource": "capture",
        "id": c.id,
        "mode": MODE,
        "description": f"Capture {payment.description}" if payment is not None else "Capture",
        "amount": amount(c.amount, c.currency),
        "settlementAmount": amount(c.amount, c.currency),
        "status": "succeeded",
        "metadata": None,
        "paymentId": c.payment_id,
        "createdAt": iso(c.created_at),
    }
    if settlement_id:
        obj["settlementId"] = settlement_id
    obj["_links"] = _payment_child_links(base, "captures", c.payment_id, c.id, settlement_id)
    return obj


# -- customers and subscriptions -------------------------------------------------------------


def render_customer(world: World, c: Customer, base: str) -> dict[str, Any]:
    return {
        "resource": "customer",
        "id": c.id,
        "mode": MODE,
        "name": c.name,
        "email": c.email,
        "locale": c.locale,
        "metadata": None,
        "createdAt": iso(c.created_at),
        "_links": {
            "self": link(f"{base}/customers/{c.id}"),
            "dashboard": link(f"{DASHBOARD}/{world.organization.id}/customers/{c.id}", HTML),
            "payments": link(f"{base}/customers/{c.id}/payments"),
            "mandates": link(f"{base}/customers/{c.id}/mandates"),
            "subscriptions": link(f"{base}/customers/{c.id}/subscriptions"),
            "documentation": doc("get-customer"),
        },
    }


def subscription_status(world: World, s: Subscription) -> str:
    now = world.now
    if s.canceled_at <= now:
        return "canceled"
    if s.suspended_at <= now:
        return "suspended"
    if s.times is not None and len(s.charges) >= s.times:
        return "completed"
    # The first payment (at creation) created the mandate, so a subscription is active from
    # then on, even before its first charge (Mollie's "pending" means: no valid mandate yet).
    return "active"


def render_subscription(world: World, s: Subscription, base: str) -> dict[str, Any]:
    status = subscription_status(world, s)
    start = local_date(s.start_date)
    obj: dict[str, Any] = {
        "resource": "subscription",
        "id": s.id,
        "mode": MODE,
        "createdAt": iso(s.created_at),
        "status": status,
        "amount": amount(s.amount, s.currency),
        "times": s.times,
        "timesRemaining": max(0, s.times - len(s.charges)) if s.times is not None else None,
        "interval": s.interval,
        "startDate": start.isoformat(),
        "description": s.description,
        "method": s.method,
        "mandateId": s.mandate_id,
        "metadata": None,
        "webhookUrl": "https://hooks.groenevork.example/mollie/subscriptions",
        "customerId": s.customer_id,
        "profileId": s.profile_id,
    }
    if status in ("active", "pending"):
        # Charge k falls on startDate + k intervals; the next one is the first not yet made.
        obj["nextPaymentDate"] = add_months(start, len(s.charges) * s.interval_months).isoformat()
    if status == "canceled":
        obj["canceledAt"] = iso(s.canceled_at)
    self_href = f"{base}/customers/{s.customer_id}/subscriptions/{s.id}"
    obj["_links"] = {
        "self": link(self_href),
        # The legacy SDK extracts customer_id from this link (/customers/(cst_[^/]+)/?$).
        "customer": link(f"{base}/customers/{s.customer_id}"),
        "profile": link(f"{base}/profiles/{s.profile_id}"),
        "mandate": link(f"{base}/customers/{s.customer_id}/mandates/{s.mandate_id}"),
        "payments": link(f"{self_href}/payments"),
        "documentation": doc("get-subscription"),
    }
    return obj


# -- balances and the ledger ------------------------------------------------------------------


def render_balance(world: World, b: Balance, base: str) -> dict[str, Any]:
    d = derived(world)
    cur = b.currency
    return {
        "resource": "balance",
        "id": b.id,
        "mode": MODE,
        "createdAt": iso(b.created_at),
        "currency": cur,
        "description": BALANCE_DESCRIPTIONS.get(cur, f"{cur} balance"),
        "status": "active",
        "availableAmount": amount(d.available[b.id], cur),
        "pendingAmount": amount(d.pending[b.id], cur),
        "transferFrequency": b.transfer_frequency,
        "transferThreshold": amount(b.transfer_threshold, cur),
        "transferReference": b.transfer_reference,
        "transferDestination": {
            "type": "bank-account",
            "beneficiaryName": b.beneficiary,
            "bankAccount": b.iban,
            "bankAccountId": b.bank_account_id,
        },
        "_links": {
            "self": link(f"{base}/balances/{b.id}"),
            "documentation": doc("get-balance"),
        },
    }


def _deduction_details(r: BalanceTransaction) -> dict[str, Any] | None:
    """Only the applicable parts, as Mollie sends them (null when nothing was deducted)."""
    if not r.deductions:
        return None
    cur = r.currency
    parts = (
        ("fees", r.fees),
        ("commissions", r.commissions),
        ("repayments", r.repayments),
        ("reservations", r.reservations),
    )
    return {name: amount(value, cur) for name, value in parts if value}


# The description Mollie adds to the context next to each id, taken from the object it names.
_DESCRIBED = (
    ("paymentId", "paymentDescription", "description"),
    ("refundId", "refundDescription", "description"),
    ("captureId", "captureDescription", None),
    ("chargebackId", "chargebackDescription", None),
)


def _context(world: World, r: BalanceTransaction) -> dict[str, str] | None:
    if not r.context:
        return None
    ctx = dict(r.context)
    for id_key, text_key, attr in _DESCRIBED:
        if id_key not in ctx or text_key in ctx:
            continue
        obj = world.by_id.get(ctx[id_key])
        if obj is None:
            continue
        if attr is not None:
            ctx[text_key] = getattr(obj, attr)
        elif id_key == "captureId":
            payment = world.by_id.get(obj.payment_id)
            ctx[text_key] = f"Capture {payment.description}" if payment else "Capture"
        else:
            ctx[text_key] = obj.reason_description or "Chargeback"
    return ctx


def render_balance_transaction(world: World, r: BalanceTransaction, base: str) -> dict[str, Any]:
    cur = r.currency
    return {
        "resource": "balance-transaction",
        "id": r.id,
        "type": r.type,
        "resultAmount": amount(r.result, cur),
        "initialAmount": amount(r.initial, cur),
        "deductions": amount(r.deductions, cur) if r.deductions else None,
        "deductionDetails": _deduction_details(r),
        "context": _context(world, r),
        "createdAt": iso(r.created_at),
    }


# -- settlements and invoices -----------------------------------------------------------------


def _period_line(line, cur: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "description": line.description,
        "method": line.method,
        "count": line.count,
    }
    if line.kind == "cost":
        # A part of the rate that does not apply is null, not left out: Mollie's own settlement
        # examples (the OpenAPI description's and both SDKs' fixtures) send `"percentage": null`
        # on fixed-only rates, though the schema types it a string (sandbox/README.md).
        out["rate"] = {
            "fixed": amount(line.rate_fixed, cur) if line.rate_fixed is not None else None,
            "percentage": line.rate_percentage,
        }
    out["amountNet"] = amount(line.net, cur, 4)
    out["amountVat"] = amount(line.vat, cur, 4) if line.vat is not None else None
    out["amountGross"] = amount(line.gross, cur, 4)
    return out


def settlement_invoice(world: World, s: Settlement) -> Invoice | None:
    """The oldest issued fee invoice among the settlement's period months."""
    d = derived(world)
    months = sorted({(line.year, line.month) for line in s.periods})
    for y, m in months:
        inv = d.invoice_of_month.get((s.balance_id, y, m))
        if inv is not None:
            return inv
    return None


def render_settlement(world: World, s: Settlement, base: str) -> dict[str, Any]:
    d = derived(world)
    cur = s.currency
    volatile = s.id in ("open", "next")
    periods: dict[str, dict[str, dict[str, Any]]] = {}
    for line in s.periods:
        month = periods.setdefault(f"{line.year:04d}", {}).setdefault(f"{line.month:02d}", None)
        if month is None:
            inv = d.invoice_of_month.get((s.balance_id, line.year, line.month))
            # Null until the month is invoiced, as in the description's examples of the open and
            # next settlements (its schema types both string or null).
            month = periods[f"{line.year:04d}"][f"{line.month:02d}"] = {
                "revenue": [],
                "costs": [],
                "invoiceId": inv.id if inv else None,
                "invoiceReference": inv.reference if inv else None,
            }
        month["revenue" if line.kind == "revenue" else "costs"].append(_period_line(line, cur))
    invoice = settlement_invoice(world, s)
    if volatile:
        status = "open"
    elif s.failed_at <= world.now:
        status = "failed"  # the bank returned the payout, or it was canceled
    else:
        status = "pending" if world.now < s.paidout_at else "paidout"
    obj: dict[str, Any] = {
        "resource": "settlement",
        "id": s.id,
        "reference": s.reference,
        "createdAt": iso(s.created_at),
        "settledAt": None if volatile else iso(s.created_at),
        "status": status,
        "amount": amount(s.amount, cur),
        "balanceId": s.balance_id,
        "periods": periods,
    }
    if invoice is not None:
        obj["invoiceId"] = invoice.id
    sid = s.id
    obj["_links"] = {
        "self": link(f"{base}/settlements/{sid}"),
        "payments": link(f"{base}/settlements/{sid}/payments"),
        "refunds": link(f"{base}/settlements/{sid}/refunds"),
        "chargebacks": link(f"{base}/settlements/{sid}/chargebacks"),
        "captures": link(f"{base}/settlements/{sid}/captures"),
        "invoice": link(f"{base}/invoices/{invoice.id}") if invoice is not None else None,
        "documentation": doc("get-settlement"),
    }
    return obj


def invoice_status(world: World, inv: Invoice) -> str:
    return "open" if world.now < inv.paid_at else "paid"


def render_invoice(world: World, inv: Invoice, base: str) -> dict[str, Any]:
    status = invoice_status(world, inv)
    cur = inv.currency
    obj: dict[str, Any] = {
        "resource": "invoice",
        "id": inv.id,
        "reference": inv.reference,
        "vatNumber": inv.vat_number,
        "status": status,
        "issuedAt": _day(inv.issued_at),
    }
    if status == "paid":
        obj["paidAt"] = _day(inv.paid_at)
    obj["dueAt"] = _day(inv.due_at)
    obj["netAmount"] = amount(inv.net, cur)
    obj["vatAmount"] = amount(inv.vat, cur)
    obj["grossAmount"] = amount(inv.gross, cur)
    obj["lines"] = [
        {
            "period": line.period,
            "description": line.description,
            "count": line.count,
            "vatPercentage": line.vat_percentage,
            "amount": amount(line.amount, cur),
        }
        for line in inv.lines
    ]
    token = hashlib.blake2b(inv.id.encode(), digest_size=16).hexdigest()
    obj["_links"] = {
        "self": link(f"{base}/invoices/{inv.id}"),
        "pdf": link(
            f"https://www.mollie.com/merchant/download/invoice/{inv.id[4:]}/{token}",
            "application/pdf",
        ),
        "documentation": doc("get-invoice"),
    }
    return obj


# -- organization and profiles ----------------------------------------------------------------


def render_profile(world: World, p: Profile, base: str) -> dict[str, Any]:
    return {
        "resource": "profile",
        "id": p.id,
        "mode": MODE,
        "name": p.name,
        "website": p.website,
        "email": p.email,
        "phone": p.phone,
        "businessCategory": p.business_category,
        "status": "verified",
        "createdAt": iso(p.created_at),
        "_links": {
            "self": link(f"{base}/profiles/{p.id}"),
            "dashboard": link(
                f"{DASHBOARD}/{world.organization.id}/settings/profiles/{p.id}", HTML
            ),
            "chargebacks": link(f"{base}/chargebacks?profileId={p.id}"),
            "methods": link(f"{base}/methods?profileId={p.id}"),
            "payments": link(f"{base}/payments?profileId={p.id}"),
            "refunds": link(f"{base}/refunds?profileId={p.id}"),
            "checkoutPreviewUrl": link(f"https://www.mollie.com/checkout/preview/{p.id[4:]}", HTML),
            "documentation": doc("get-profile"),
        },
    }


def render_organization(
    world: World, org: Organization, base: str, self_id: str | None = None
) -> dict[str, Any]:
    """`self_id` = "me" when the object was fetched as /organizations/me."""
    return {
        "resource": "organization",
        "id": org.id,
        "name": org.name,
        "email": org.email,
        "locale": org.locale,
        "address": {
            "streetAndNumber": org.street,
            "postalCode": org.postal_code,
            "city": org.city,
            "country": org.country,
        },
        "registrationNumber": org.registration_number,
        "vatNumber": org.vat_number,
        "vatRegulation": "dutch",
        "_links": {
            "self": link(f"{base}/organizations/{self_id or org.id}"),
            "chargebacks": link(f"{base}/chargebacks"),
            "customers": link(f"{base}/customers"),
            "invoices": link(f"{base}/invoices"),
            "payments": link(f"{base}/payments"),
            "profiles": link(f"{base}/profiles"),
            "refunds": link(f"{base}/refunds"),
            "settlements": link(f"{base}/settlements"),
            "dashboard": link(f"{DASHBOARD}/{org.id}", HTML),
            "documentation": doc("get-organization"),
        },
    }
