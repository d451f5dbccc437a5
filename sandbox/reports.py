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
from sandbox.money import amount


class _Group:
    """A report sub-group: amount, count and subtotals per transactionType (then method)."""

    def __init__(self) -> None:
        self.total = 0
        self.count = 0
        self.by_type: dict[str, list] = defaultdict(lambda: [0, 0, defaultdict(lambda: [0, 0])])

    def add(self, type_: str, method: str | None, value: int, own: bool) -> None:
        if value == 0:
            return
        self.total += value
        if own:  # a row's deductions are part of that row, not a new one
            self.count += 1
        t = self.by_type[type_]
        t[0] += value
        t[1] += 1
        if method and type_ in ("payment", "capture"):
            t[2][method][0] += value
            t[2][method][1] += 1

    def render(self, currency: str) -> dict:
        subtotals = []
        for type_, (value, count, methods) in sorted(self.by_type.items()):
            item: dict = {
                "transactionType": type_,
                "count": count,
                "amount": amount(value, currency),
            }
            if methods:
                item["subtotals"] = [
                    {"method": m, "count": c, "amount": amount(v, currency)}
                    for m, (v, c) in sorted(methods.items())
                ]
            subtotals.append(item)
        # No `count` at this level: Mollie's report schema and every example give a sub-group
        # only `amount` and `subtotals`; counts start one level down.
        return {"amount": amount(self.total, currency), "subtotals": subtotals}


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
                    groups["pending"].add(type_, row.method, value, own)
                if start <= row.available_at < end:
                    groups["moved"].add(type_, row.method, value, own)
            elif start <= row.created_at:
                groups["immediate"].add(type_, row.method, value, own)
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
