"""Derived views of the sandbox ledger: balance reports and the open / next settlement.

Both are computed from the immutable ledger rows at request time, the way Mollie derives them,
so they agree with the balance transactions to the cent for any window.

Balance-report sign convention (as in Mollie's own status-balances example): every flow is shown
with the sign it has on the balance it is reported under, and `movedToAvailable` is shown as the
(positive) amount that left pending, so

    pendingBalance:   open + pending − movedToAvailable = close
    availableBalance: open + movedFromPending + immediatelyAvailable = close

A row's gross amount is reported under its own `transactionType`; its fees under
`fee-prepayment`, as Mollie's reports split them, and the other parts of its deductions
(reserve, repayment, commission) under the type of movement they are.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from sandbox.clock import local_midnight
from sandbox.generate import World
from sandbox.ledger import fill_settlement
from sandbox.ledger_types import CATEGORIES, DEDUCTION_PARTS, category_of
from sandbox.model import Balance, BalanceTransaction, Settlement
from sandbox.money import CENT, amount, percent_of
from sandbox.pricing import VAT_PERCENTAGE


def _amount(value: int, currency: str) -> dict[str, str]:
    """Cents where the value is whole cents, else Mollie's 4 decimals (fee parts: "-0.0609")."""
    return amount(value, currency, 2 if value % CENT == 0 else 4)


# The parts Mollie splits a fee prepayment into (its status-balances example shows them).
_FEE_PARTS = ("fee", "fee-vat", "fee-rounding-compensation")


def _fee_type(row: BalanceTransaction) -> str:
    if row.type in ("payment", "capture"):
        return "payment-fee"
    if row.type in ("refund", "chargeback"):
        return f"{row.type}-fee"
    return row.type


class _Group:
    """A report sub-group: amount, count and subtotals per transactionType (then method).

    A `fee-prepayment` is split further, as Mollie's reports split it, into the fee (per
    `feeType` and method), its VAT and the rounding of the VAT-inclusive fee to cents.
    """

    def __init__(self) -> None:
        self.total = 0
        self.count = 0
        self.by_type: dict[str, list] = defaultdict(lambda: [0, 0, defaultdict(lambda: [0, 0])])

    def add(self, type_: str, row: BalanceTransaction, value: int, own: bool) -> None:
        if value == 0:
            return
        self.total += value
        if own:  # a row's deductions are part of that row, not a new one
            self.count += 1
        t = self.by_type[type_]
        t[0] += value
        t[1] += 1
        if type_ == "fee-prepayment":
            net = -row.fee_net
            vat = -percent_of(row.fee_net, str(VAT_PERCENTAGE))
            parts = (
                (("fee", _fee_type(row), row.method), net),
                (("fee-vat", None, None), vat),
                (("fee-rounding-compensation", None, None), value - net - vat),
            )
            for key, part in parts:
                if part:
                    t[2][key][0] += part
                    t[2][key][1] += 1
        elif row.method and type_ in ("payment", "capture"):
            t[2][row.method][0] += value
            t[2][row.method][1] += 1

    def render(self, currency: str) -> dict:
        subtotals = []
        for type_, (value, count, details) in sorted(self.by_type.items()):
            item: dict = {
                "transactionType": type_,
                "count": count,
                "amount": amount(value, currency),
            }
            if type_ == "fee-prepayment":
                item["subtotals"] = _fee_subtotals(details, currency)
            elif details:
                item["subtotals"] = [
                    {"method": m, "count": c, "amount": amount(v, currency)}
                    for m, (v, c) in sorted(details.items())
                ]
            subtotals.append(item)
        # No `count` at this level: Mollie's report schema and every example give a sub-group
        # only `amount` and `subtotals`; counts start one level down.
        return {"amount": amount(self.total, currency), "subtotals": subtotals}


def _fee_subtotals(details: dict, currency: str) -> list[dict]:
    out = []
    for part in _FEE_PARTS:
        keys = sorted((k for k in details if k[0] == part), key=lambda k: (k[1] or "", k[2] or ""))
        if not keys:
            continue
        value = sum(details[k][0] for k in keys)
        node: dict = {"prepaymentPartType": part}
        if part == "fee":
            node["count"] = sum(details[k][1] for k in keys)
        node["amount"] = _amount(value, currency)
        if part == "fee":
            node["subtotals"] = []
            for k in keys:
                _, fee_type, method = k
                sub: dict = {"feeType": fee_type}
                if method:
                    sub["method"] = method
                sub["count"], sub["amount"] = details[k][1], _amount(details[k][0], currency)
                node["subtotals"].append(sub)
        out.append(node)
    return out


def _parts(row: BalanceTransaction) -> list[tuple[str, int, bool]]:
    """The report lines one ledger row contributes: its gross, then each part of deductions.

    (transactionType, amount, whether it is the row's own line.) Fees are Mollie's fee
    prepayments; reservations, repayments and commissions are reported as the movements they
    are (see `ledger_types.DEDUCTION_PARTS`).
    """
    parts = [(row.type, row.initial, True)]
    if row.deductions:
        for name, (type_, _) in DEDUCTION_PARTS.items():
            value = getattr(row, name)
            if value:
                parts.append((type_, value, False))
    return parts


def balance_report(
    world: World, balance: Balance, from_date: date, until_date: date, grouping: str
) -> dict:
    """Mollie's balance report for [from, until) in Europe/Amsterdam days (until exclusive).

    The response's `until` is the last day the report covers (the request's `until` − 1 day),
    as Mollie's own examples show (sandbox/README.md, "Balance reports").
    """
    start, end = local_midnight(from_date), local_midnight(until_date)
    currency = balance.currency
    groups = {k: _Group() for k in ("pending", "moved", "immediate")}
    open_pending = open_available = close_pending = close_available = 0
    for row in world.transactions:
        if row.balance_id != balance.id or row.created_at >= end:
            continue
        r = row.result
        # State at an instant t: a row is pending when created_at < t <= available_at.
        if row.created_at < start:
            if row.available_at >= start:
                open_pending += r
            else:
                open_available += r
        if row.available_at >= end:
            close_pending += r
        else:
            close_available += r
        for type_, value, own in _parts(row):
            if row.via_pending:
                if start <= row.created_at:
                    groups["pending"].add(type_, row, value, own)
                if start <= row.available_at < end:
                    groups["moved"].add(type_, row, value, own)
            elif start <= row.created_at:
                groups["immediate"].add(type_, row, value, own)
    body = {
        "resource": "balance-report",
        "balanceId": balance.id,
        "timeZone": "Europe/Amsterdam",
        "from": from_date.isoformat(),
        # The request's `until` is exclusive; Mollie answers with the last day it includes.
        "until": (until_date - timedelta(days=1)).isoformat(),
        "grouping": grouping,
    }
    if grouping == "status-balances":
        moved = groups["moved"].render(currency)
        body["totals"] = {
            "pendingBalance": {
                "open": {"amount": amount(open_pending, currency)},
                "pending": groups["pending"].render(currency),
                "movedToAvailable": moved,
                "close": {"amount": amount(close_pending, currency)},
            },
            "availableBalance": {
                "open": {"amount": amount(open_available, currency)},
                "movedFromPending": moved,
                "immediatelyAvailable": groups["immediate"].render(currency),
                "close": {"amount": amount(close_available, currency)},
            },
        }
    else:
        body["totals"] = _by_category(
            groups, currency, open_pending, open_available, close_pending, close_available
        )
    return body


def _by_category(
    groups: dict[str, _Group],
    currency: str,
    open_pending: int,
    open_available: int,
    close_pending: int,
    close_available: int,
) -> dict:
    totals: dict = {
        "open": {
            "pending": {"amount": amount(open_pending, currency)},
            "available": {"amount": amount(open_available, currency)},
        },
        "close": {
            "pending": {"amount": amount(close_pending, currency)},
            "available": {"amount": amount(close_available, currency)},
        },
    }
    for category in CATEGORIES:
        section = {}
        for key, name in (
            ("pending", "pending"),
            ("moved", "movedToAvailable"),
            ("immediate", "immediatelyAvailable"),
        ):
            sub = _Group()
            for type_, (value, count, methods) in groups[key].by_type.items():
                if category_of(type_) == category:
                    sub.total += value
                    sub.count += count
                    sub.by_type[type_] = [value, count, methods]
            if sub.count:
                section[name] = sub.render(currency)
        totals[category] = section
    return totals


def pending_settlement(world: World, kind: str, balance_id: str | None = None) -> Settlement | None:
    """The `open` (everything not yet paid out) or `next` (what the next payout will sweep).

    Volatile views, built from the unswept ledger rows of the primary (or given) balance; their
    id is the literal `open` / `next`, as Mollie's spec shows them.
    """
    balance = world.balances[0] if balance_id is None else world.by_id[balance_id]
    rows = [
        r
        for r in world.transactions
        if r.balance_id == balance.id
        and r.settlement_id is None
        and r.type != "outgoing-transfer"
        and (kind == "open" or r.available_at <= world.now)
    ]
    if not rows:
        return None
    s = Settlement(
        id=kind,
        reference=None,
        balance_id=balance.id,
        currency=balance.currency,
        created_at=world.now,
        paidout_at=2**62,
        amount=sum(r.result for r in rows),
        transaction_ids=[r.id for r in rows],
        transfer_transaction_id="",
        transfer_id="",
    )
    fill_settlement(s, rows, world.months)
    return s
