"""The objects follow the ledger the way Mollie shows it, and never rewrite what was served.

- `failed-payment`: the direct debit the bank returned turns `failed` (failedAt, the bank's
  reason code in details), keeping the paidAt it had;
- `unauthorized-direct-debit`: the payment stays `paid`; the reversal is a chargeback of it
  (reason MD01) that no settlement lists;
- `returned-refund`: the refund turns `failed` and stops counting in amountRefunded;
- webhooks: `payout.failed` for a returned or canceled payout, `refund.failed` for a returned
  refund.
"""

from __future__ import annotations

from functools import cache

from sandbox import render, webhook_sender
from sandbox.generate import SandboxConfig, World, build_world
from sandbox.money import amount
from sandbox.people import DEBIT_FAILURE_REASONS

BASE = "http://sandbox.test/v2"
START = "2026-09-01T00:00:00Z"
NOW = "2026-11-01T00:00:00Z"


def config(now: str | int = NOW) -> SandboxConfig:
    return SandboxConfig.from_cli(seed=7, payments=1500, days=61, now=NOW, start=START).advanced(
        now
    )


@cache
def world() -> World:
    return build_world(config())


@cache
def world_at(now: int) -> World:
    return build_world(config(now))


def rows(w: World, type_: str):
    found = [r for r in w.transactions if r.type == type_]
    assert found, f"the world has no {type_} row"
    return found


def test_a_returned_direct_debit_turns_failed_with_its_bank_reason():
    w = world()
    for row in rows(w, "failed-payment"):
        p = w.by_id[row.context["paymentId"]]
        obj = render.render_payment(w, p, BASE)
        assert obj["status"] == "failed"
        assert obj["failedAt"] == render.iso(row.created_at)
        assert obj["paidAt"] == render.iso(p.paid_at)  # it was paid; that stays true
        assert (obj["details"]["bankReasonCode"], obj["details"]["bankReason"]) in (
            DEBIT_FAILURE_REASONS
        )
        assert "amountRefunded" not in obj and "amountChargedBack" not in obj


def test_before_the_return_the_same_payment_was_served_as_paid():
    w = world()
    row = rows(w, "failed-payment")[0]
    earlier = world_at(row.created_at - 1)
    before = render.render_payment(earlier, earlier.by_id[row.context["paymentId"]], BASE)
    after = render.render_payment(w, w.by_id[row.context["paymentId"]], BASE)
    assert before["status"] == "paid" and "failedAt" not in before
    assert "bankReasonCode" not in (before["details"] or {})
    assert before["paidAt"] == after["paidAt"] and before["amount"] == after["amount"]


def test_every_failed_direct_debit_names_a_reason_and_others_do_not():
    w = world()
    for p in w.payments:
        details = render.render_payment(w, p, BASE)["details"] or {}
        failed_debit = p.method == "directdebit" and render.payment_status(w, p) == "failed"
        assert ("bankReasonCode" in details) == failed_debit, p.id


def test_a_reversed_direct_debit_is_a_chargeback_of_a_paid_payment():
    w = world()
    listed = {c for s in w.settlements for c in s.chargeback_ids}
    for row in rows(w, "unauthorized-direct-debit"):
        p = w.by_id[row.context["paymentId"]]
        obj = render.render_payment(w, p, BASE)
        assert obj["status"] == "paid"
        assert obj["amountChargedBack"] == amount(-row.initial, row.currency)
        assert obj["amountRemaining"] == amount(0, row.currency)
        assert obj["_links"]["chargebacks"]["href"] == f"{BASE}/payments/{p.id}/chargebacks"
        (cb,) = [w.by_id[c] for c in p.chargebacks]
        served = render.render_chargeback(w, cb, BASE)
        assert served["reason"] == {"code": "MD01", "description": "No valid mandate"}
        assert served["createdAt"] == render.iso(row.created_at)
        assert served["amount"] == amount(-row.initial, row.currency)
        # Its ledger row names the payment only, so no settlement lists the chargeback.
        assert "settlementId" not in served and cb.id not in listed
        assert not any(r.context.get("chargebackId") == cb.id for r in w.transactions)


def test_the_reversal_chargeback_does_not_exist_before_the_reversal():
    w = world()
    row = rows(w, "unauthorized-direct-debit")[0]
    (cb_id,) = w.by_id[row.context["paymentId"]].chargebacks
    earlier = world_at(row.created_at - 1)
    assert cb_id not in earlier.by_id
    obj = render.render_payment(earlier, earlier.by_id[row.context["paymentId"]], BASE)
    assert obj["status"] == "paid" and "amountChargedBack" not in obj


def test_a_returned_refund_turns_failed_and_no_longer_counts_as_refunded():
    w = world()
    for row in rows(w, "returned-refund"):
        r = w.by_id[row.context["refundId"]]
        assert render.render_refund(w, r, BASE)["status"] == "failed"
        p = w.by_id[r.payment_id]
        still = sum(x.amount for x in (w.by_id[i] for i in p.refunds) if x.id != r.id)
        obj = render.render_payment(w, p, BASE)
        assert obj["amountRefunded"] == amount(still, p.currency)
        earlier = world_at(row.created_at - 1)
        assert render.render_refund(earlier, earlier.by_id[r.id], BASE)["status"] == "refunded"


def test_webhooks_send_payout_failed_and_refund_failed():
    w = world()
    bounced = next(r for r in w.transactions if r.type == "returned-transfer")
    returned = rows(w, "returned-refund")[0]
    old = world_at(min(bounced.created_at, returned.created_at) - 1)
    sent = {(c.type, c.entity["id"]) for c in webhook_sender.changes(old, w, BASE)}
    assert ("payout.failed", bounced.context["settlementId"]) in sent
    assert ("refund.failed", returned.context["refundId"]) in sent
    assert {"payout.failed", "refund.failed"} <= webhook_sender.EVENT_TYPES
