"""A Mollie Connect platform's ledger: what connected organizations' payments bring it.

With `--platform` the association also runs a small Connect platform for partner
associations (three connected organizations). Each day some of their payments give the
platform an `application-fee` (+, context `payingOwner`); some are split payments that route a
share to the platform (`split-payment`, +, context `paymentOwner`) with the connected
organization's commission withheld as `deductionDetails.commissions`; Mollie pays it
`payment-commission` and `capture-commission` (+, context `organizationId`). Refunds and
chargebacks of those payments that the platform funds come off its balance
(`platform-payment-refund`, `platform-payment-chargeback`, −) and some come back
(`returned-platform-payment-refund`, `reversed-platform-payment-chargeback`, +); a split that
fails is taken back (`failed-platform-split-payment`, −) and compensated
(`failed-split-payment-compensation`, +); some shares are routed after the payment
(`post-payment-split-payment`, +). Mollie charges a monthly fee for the connected
organizations (`platform-connected-organizations-fee`, a fee row).

Each day is drawn from its own random stream (seed, date), so a later `now` keeps history.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import TYPE_CHECKING

from sandbox.clock import DAY, local_at, local_date, local_midnight
from sandbox.money import CENT, percent_of, round_units

if TYPE_CHECKING:
    from sandbox.ledger import Ledger

CONNECTED = 3
EVENTS_PER_DAY = 2.0
DESCRIPTIONS = ("Contributie partner", "Bestelling partner", "Evenement partner")


def add(ledger: Ledger) -> None:
    g, eur = ledger.g, ledger.balances[0]
    orgs = [g.make_id("org", f"connected:{i}") for i in range(CONNECTED)]
    day, last = local_date(g.c.start), local_date(ledger.now)
    while day <= last:
        rng = random.Random(f"{g.c.seed}:platform:{day.isoformat()}")
        if day.day == 1:
            ledger.fee_row(
                f"connected-fee:{day}",
                eur,
                "platform-connected-organizations-fee",
                local_at(day, 2),
            )
        n = max(1, round(rng.gauss(EVENTS_PER_DAY, 1.0)))
        for i in range(n):
            _one(ledger, rng, orgs, local_midnight(day) + rng.randrange(DAY), f"{day}:{i}")
        day += timedelta(days=1)


def _one(ledger: Ledger, rng: random.Random, orgs: list[str], at: int, key: str) -> None:
    g, eur = ledger.g, ledger.balances[0]
    org = rng.choice(orgs)
    amount = max(100, int(rng.lognormvariate(3.4, 0.7) * 100)) * CENT
    pid = g.make_id("tr", f"platform:{key}")
    desc = f"{rng.choice(DESCRIPTIONS)} {rng.randrange(1000, 9999)}"
    ctx = {"paymentId": pid, "paymentDescription": desc}
    fee = round_units(percent_of(amount, "2") + 10 * CENT, 2)
    ledger.row(
        f"application-fee:{key}", eur, "application-fee", at, at, fee, **ctx, payingOwner=org
    )
    roll = rng.random()
    if roll < 0.5:
        share = round_units(percent_of(amount, "60"), 2)
        row = ledger.row(
            f"split:{key}", eur, "split-payment", at + 1, at + 1, share, **ctx, paymentOwner=org
        )
        row.withhold("commissions", max(CENT, round_units(percent_of(share, "1"), 2)))
        later = at + rng.randrange(3, 15) * DAY
        if rng.random() < 0.06:
            rid = g.make_id("re", f"platform:{key}")
            refund = {"refundId": rid, "refundDescription": "Terugbetaling partner"}
            _funded(ledger, rng, later, -share, "platform-payment-refund", key, **ctx, **refund)
        elif rng.random() < 0.03:
            cid = g.make_id("chb", f"platform:{key}")
            cb = {"chargebackId": cid, "chargebackDescription": "Betwiste betaling partner"}
            _funded(ledger, rng, later, -share, "platform-payment-chargeback", key, **ctx, **cb)
        elif rng.random() < 0.03:
            ledger.row(
                f"failed-split:{key}",
                eur,
                "failed-platform-split-payment",
                later,
                later,
                -share,
                **ctx,
            )
            ledger.row(
                f"failed-split-compensation:{key}",
                eur,
                "failed-split-payment-compensation",
                later + 60,
                later + 60,
                round_units(percent_of(share, "50"), 2),
                **ctx,
            )
    elif roll < 0.6:
        share = round_units(percent_of(amount, "30"), 2)
        ledger.row(
            f"post-split:{key}",
            eur,
            "post-payment-split-payment",
            at + DAY,
            at + DAY,
            share,
            paymentId=pid,
        )
    commission = max(CENT, round_units(percent_of(amount, "0.5"), 2))
    if rng.random() < 0.2:
        ledger.row(
            f"payment-commission:{key}",
            eur,
            "payment-commission",
            at + 2,
            at + 2,
            commission,
            **ctx,
            organizationId=org,
        )
    elif rng.random() < 0.05:
        ledger.row(
            f"capture-commission:{key}",
            eur,
            "capture-commission",
            at + 2,
            at + 2,
            commission,
            **ctx,
            organizationId=org,
        )


# What comes back of a refund or chargeback the platform funded, 3 times in 10.
_COMES_BACK = {
    "platform-payment-refund": "returned-platform-payment-refund",
    "platform-payment-chargeback": "reversed-platform-payment-chargeback",
}


def _funded(
    ledger: Ledger, rng: random.Random, at: int, amount: int, type_: str, key: str, **context: str
) -> None:
    """A refund or chargeback the platform funds (`amount` < 0) and, sometimes, its return.

    Row keys are the type without "payment-" (platform-refund:…, returned-platform-refund:…).
    """
    eur = ledger.balances[0]
    ledger.row(f"{type_.replace('payment-', '')}:{key}", eur, type_, at, at, amount, **context)
    if rng.random() < 0.3:
        back = at + rng.randrange(10, 30) * DAY
        back_type = _COMES_BACK[type_]
        ledger.row(
            f"{back_type.replace('payment-', '')}:{key}",
            eur,
            back_type,
            back,
            back,
            -amount,
            **context,
        )
