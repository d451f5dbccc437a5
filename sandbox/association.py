"""An association's life on its Mollie balance, beyond payments, refunds and chargebacks.

What a treasurer of a Dutch association sees on a real Mollie account, at realistic rates and
at least once in the first month of the world (so the demo shows each):

- SEPA direct debits that fail after they were credited (`failed-payment`, −amount, with
  Mollie's fee for it as a `failed-payment-fee` row; the payment turns `failed` with its bank's
  reason code), and debits the member's bank reverses weeks later because the member disputes
  them (`unauthorized-direct-debit`, −amount; the payment stays `paid` and gets a chargeback;
  Mollie invoices its fee for these at the end of the month);
- refunds the customer's bank sends back weeks later (`returned-refund`, +amount; the refund
  turns `failed`), always swept by a later settlement than the refund;
- a rolling reserve: 10 % of each card payment of the first 60 days withheld as
  `deductionDetails.reservations` and released 14 days later (`rolling-reserve-release`);
- a payout the bank returns (`returned-transfer`) and one Mollie cancels (`canceled-transfer`):
  the money comes back to the balance and is swept again by the next payout;
- balance corrections and a top-up from the association's bank account.

Every choice is drawn from (seed, object id), so a later `now` keeps the same history.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from typing import TYPE_CHECKING

from sandbox.clock import DAY, add_business_days, local_at, local_date
from sandbox.model import Chargeback, Payment
from sandbox.money import round_units, units
from sandbox.people import SEPA_REASONS

if TYPE_CHECKING:
    from sandbox.ledger import Ledger

FAILED_SHARE = 0.03  # of credited direct debits that fail afterwards
UNAUTHORIZED_SHARE = 0.004  # of direct debits the member's bank reverses
RETURNED_REFUND_SHARE = 0.015
RESERVE_PERCENT = 10
RESERVE_DAYS = 60  # from the start of the world, card payments carry a reserve
RESERVE_RELEASE_DAYS = 14
FIRST_MONTH = 30 * DAY


def chance(seed: int, key: str) -> float:
    """A uniform draw in [0, 1) that depends only on the seed and the key."""
    digest = hashlib.blake2b(key.encode(), key=str(seed).encode(), digest_size=8).digest()
    return int.from_bytes(digest) / 2**64


def add(ledger: Ledger) -> None:
    _direct_debits(ledger)
    _returned_refunds(ledger)
    _rolling_reserve(ledger)
    _corrections_and_topup(ledger)
    c = ledger.g.c
    ledger.bounces.append((c.start + 7 * DAY, "returned-transfer", 48))
    ledger.bounces.append((c.start + 14 * DAY, "canceled-transfer", 2))


def _direct_debits(ledger: Ledger) -> None:
    g, seed = ledger.g, ledger.g.c.seed
    payments = {p.id: p for p in g.payments if p.method == "directdebit"}
    rows = [
        r
        for r in ledger.rows
        if r.type == "payment"
        and r.method == "directdebit"
        and not payments[r.context["paymentId"]].refunds
        and not payments[r.context["paymentId"]].chargebacks
    ]
    failed, unauthorized = [], []
    for r in rows:
        x = chance(seed, f"dd:{r.context['paymentId']}")
        if x < FAILED_SHARE:
            failed.append((r, add_business_days(r.created_at, 2)))
        elif x < FAILED_SHARE + UNAUTHORIZED_SHARE:
            days = 5 + int(chance(seed, f"dd-days:{r.id}") * 50)
            unauthorized.append((r, r.created_at + days * DAY))
    # A treasurer meets both in the first month: the earliest debit that is neither already
    # does so if the rates alone did not.
    early = ledger.g.c.start + FIRST_MONTH
    taken = {r.id for r, _ in failed + unauthorized}
    spare = (r for r in rows if r.id not in taken)
    if not any(at < early for _, at in failed):
        r = next(spare, None)
        if r is not None:
            failed.append((r, add_business_days(r.created_at, 2)))
    if not any(at < early for _, at in unauthorized):
        r = next(spare, None)
        if r is not None:
            unauthorized.append((r, r.created_at + 6 * DAY))
    for r, at in failed:
        payment_id = r.context["paymentId"]
        payments[payment_id].debit_failed_at = at  # the payment object shows it as failed
        b = _balance(ledger, r.balance_id)
        ledger.row(
            f"failed:{payment_id}",
            b,
            "failed-payment",
            at,
            at,
            -r.initial,
            method=r.method,
            paymentId=payment_id,
        )
        ledger.fee_row(
            f"failed-fee:{payment_id}", b, "failed-payment-fee", at + 1, paymentId=payment_id
        )
    for r, at in unauthorized:
        payment_id = r.context["paymentId"]
        if at <= ledger.now:
            _reversal_chargeback(ledger, payments[payment_id], at)
        b = _balance(ledger, r.balance_id)
        ledger.row(
            f"unauthorized:{payment_id}",
            b,
            "unauthorized-direct-debit",
            at,
            at,
            -r.initial,
            method=r.method,
            paymentId=payment_id,
        )


def _reversal_chargeback(ledger: Ledger, p: Payment, at: int) -> None:
    """Mollie shows a debit the member's bank reversed as a chargeback of the payment (reason
    MD01, no valid mandate); the payment stays `paid` with `amountChargedBack`. The ledger row is
    `unauthorized-direct-debit`, whose context names the payment only, so no settlement lists
    the chargeback and Mollie deducts no chargeback fee (its fee is invoiced)."""
    g = ledger.g
    code, text = next(r for r in SEPA_REASONS if r[0] == "MD01")
    cb = Chargeback(
        g.make_id("chb", f"unauthorized:{p.id}"), p.id, at, p.amount, p.currency, code, text
    )
    p.chargebacks.append(cb.id)
    g.chargebacks.append(cb)


def _returned_refunds(ledger: Ledger) -> None:
    g, seed = ledger.g, ledger.g.c.seed
    refunds = sorted(
        (r for r in g.refunds if r.transaction_id is not None), key=lambda r: r.created_at
    )
    chosen = [
        (r, r.processed_at + (14 + int(chance(seed, f"rr-days:{r.id}") * 21)) * DAY)
        for r in refunds
        if chance(seed, f"rr:{r.id}") < RETURNED_REFUND_SHARE
    ]
    if refunds and not any(at < g.c.start + FIRST_MONTH for _, at in chosen):
        first = refunds[0]
        if all(first is not r for r, _ in chosen):
            chosen.append((first, first.processed_at + 9 * DAY))
    pay = {p.id: p for p in g.payments}
    for r, at in chosen:
        r.returned_at = at  # the refund object shows it as failed from then
        p = pay[r.payment_id]
        ledger.row(
            f"returned-refund:{r.id}",
            _balance(ledger, p.balance_id),
            "returned-refund",
            at,
            at,
            r.amount,
            method=p.method,
            paymentId=p.id,
            refundId=r.id,
        )


def _rolling_reserve(ledger: Ledger) -> None:
    eur = ledger.balances[0]
    until = ledger.g.c.start + RESERVE_DAYS * DAY
    held: dict = defaultdict(int)
    for r in ledger.rows:
        if (
            r.created_at < until
            and r.balance_id == eur.id
            and r.method in ("creditcard", "applepay")
            and r.type in ("payment", "capture")
        ):
            reserve = round_units(r.initial * RESERVE_PERCENT // 100, 2)
            if reserve:
                r.withhold("reservations", reserve)
                held[local_date(r.created_at)] += reserve
    for day, amount in sorted(held.items()):
        at = local_at(day, 5) + RESERVE_RELEASE_DAYS * DAY
        ledger.row(f"reserve-release:{day}", eur, "rolling-reserve-release", at, at, amount)


def _corrections_and_topup(ledger: Ledger) -> None:
    c, eur = ledger.g.c, ledger.balances[0]
    for k, day in enumerate(range(9, 10_000, 45)):
        at = local_at(local_date(c.start + day * DAY), 11)
        if at > ledger.now:
            break
        cents = 50 + int(chance(c.seed, f"correction:{k}") * 900)
        sign = 1 if chance(c.seed, f"correction-sign:{k}") < 0.5 else -1
        ledger.row(f"correction:{k}", eur, "balance-correction", at, at, sign * cents * 100)
    at = local_at(local_date(c.start + 12 * DAY), 10)
    ledger.row("topup:0", eur, "topup", at, at, units("250.00"))


def _balance(ledger: Ledger, balance_id: str):
    return next(b for b in ledger.balances if b.id == balance_id)
