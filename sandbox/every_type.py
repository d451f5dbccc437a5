"""`--every-type`: every balance-transaction type Mollie names occurs at least once.

Turns on every family (association, platform, Mollie Capital), then books one row of each
type in `ledger_types.TYPES` that the families did not produce, spread over the world, on the
EUR balance. Each row has the sign, amounts and `context` Mollie's spec describes for its type:
fee types move nothing but their deducted fee; a type whose context names a payment, refund,
chargeback or capture points at a real one of this world created before it; types whose
context Mollie lists as "none" carry none. The payout types come from real payouts (a third
payout is canceled as `canceled-outgoing-transfer`), the invoice types from real invoices.
"""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING

from sandbox.clock import DAY
from sandbox.ledger_types import TYPES
from sandbox.money import units
from sandbox.pricing import FEE_ROW_PRICES, gross_fee

if TYPE_CHECKING:
    from sandbox.ledger import Ledger

# Made by the time-forward run (payouts, invoices), never booked here.
FROM_PAYOUTS_AND_INVOICES = {
    "outgoing-transfer",
    "returned-transfer",
    "canceled-transfer",
    "canceled-outgoing-transfer",
    "invoice-compensation",
    "invoice-rounding-compensation",
}
AMOUNT = units("25.00")

# type -> (sign of initialAmount, what its context refers to)
ONE_OFF: dict[str, tuple[int, str]] = {
    "balance-reserve": (-1, "none"),
    "balance-reserve-return": (+1, "none"),
    "balance-topup": (+1, "none"),
    "cash-collateral-issuance": (-1, "none"),
    "cash-collateral-release": (+1, "none"),
    "cash-advance-loan": (+1, "none"),
    "movement": (-1, "none"),
    "incoming-transfer": (+1, "none"),
    "outgoing-custom-amount-transfer": (-1, "transfer"),
    "held-rolling-reserve": (-1, "none"),
    "released-rolling-reserve": (+1, "none"),
    "pending-rolling-reserve": (-1, "none"),
    "to-be-released-rolling-reserve": (+1, "none"),
    "rolling-reserve-hold": (-1, "none"),
    "capture-rolling-reserve-release": (+1, "capture"),
    "chargeback-compensation": (+1, "chargeback"),
    "reversed-chargeback-compensation": (-1, "chargeback"),
    "refund-compensation": (+1, "refund"),
    "returned-refund-compensation": (-1, "refund"),
    "split-transaction": (+1, "payment"),
    "returned-managed-fee": (+1, "managed"),
}


def add(ledger: Ledger) -> None:
    c, eur = ledger.g.c, ledger.balances[0]
    ledger.bounces.append((c.start + 21 * DAY, "canceled-outgoing-transfer", 3))
    present = {r.type for r in ledger.rows if r.created_at <= ledger.now}
    present |= FROM_PAYOUTS_AND_INVOICES
    missing = [t for t in TYPES if t not in present]
    refs = _References(ledger)
    span = max(ledger.now - c.start, DAY)
    for i, type_ in enumerate(missing):
        at = c.start + 2 * DAY + (i + 1) * (span - 4 * DAY) // (len(missing) + 1)
        key = f"every-type:{type_}"
        if type_ in FEE_ROW_PRICES:
            context = refs.context("managed" if type_ == "managed-fee" else "payment", at)
            if type_ in ("balance-charge-fee", "fee-prepayment"):
                context = {}
            ledger.fee_row(key, eur, type_, at, **context)
            continue
        if type_ == "repayment":
            ledger.row(key, eur, type_, at, at, -AMOUNT)
            continue
        sign, kind = ONE_OFF.get(type_, (+1, "payment"))
        initial = sign * AMOUNT
        if type_ == "returned-managed-fee":
            initial = gross_fee(FEE_ROW_PRICES["managed-fee"].fixed)
        ledger.row(key, eur, type_, at, at, initial, **refs.context(kind, at))


class _References:
    """Finds a real object of this world, created before a moment, for a row's context."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        eur = ledger.balances[0].id
        own = sorted(
            (r for r in ledger.rows if r.balance_id == eur and r.type in _OWN),
            key=lambda r: r.created_at,
        )
        self.by_type = {t: [r for r in own if r.type == t] for t in _OWN}

    def _before(self, type_: str, at: int):
        rows = self.by_type[type_]
        if not rows:
            return None
        i = bisect.bisect_right(rows, at, key=lambda r: r.created_at)
        return rows[max(0, i - 1)]

    def context(self, kind: str, at: int) -> dict[str, str]:
        g = self.ledger.g
        if kind == "none":
            return {}
        if kind == "transfer":
            return {"transferId": g.make_id("trf", f"custom:{at}")}
        if kind == "managed":
            return {"feeType": "terminal", "terminalId": g.make_id("term", "every-type")}
        source = {"payment": "payment", "capture": "capture", "refund": "refund"}.get(
            kind, "chargeback"
        )
        row = self._before(source, at) or self._before("payment", at)
        if row is None:
            return {}
        keys = {
            "payment": ("paymentId",),
            "capture": ("paymentId", "captureId"),
            "refund": ("paymentId", "refundId"),
            "chargeback": ("paymentId", "chargebackId"),
        }[source if row.type == source else "payment"]
        return {k: row.context[k] for k in keys}


_OWN = ("payment", "capture", "refund", "chargeback")
