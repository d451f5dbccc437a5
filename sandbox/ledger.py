"""The balance ledger, the monthly fee invoices and the payouts, built from the world's objects.

Length: invoices and payouts run in one time-ordered loop (an invoice's compensation rows are
swept by later payouts, a bounced payout comes back to the next), and the periods a payout gets
are priced from the rows it swept, so the three stay together.

1. One row per paid payment or capture (via pending until its funds are available), refund,
   chargeback and chargeback reversal; then the families of further events the configuration
   asks for (an association's life, a Connect platform, Mollie Capital, every remaining type),
   each from its own module.
2. Time then runs forward: on the 1st of each month Mollie's fee invoice for the previous month
   is issued, with an `invoice-rounding-compensation` row that gives back (or takes) the
   difference between the real-time deductions (rounded per transaction) and the invoice, and an
   `invoice-compensation` row that takes what was invoiced but never deducted; on each payout
   moment of a balance all its available rows are swept into a settlement and an
   `outgoing-transfer` row moves exactly −amount. A payout the bank returns or Mollie cancels
   comes back as a `returned-transfer` / `canceled-transfer` row and is swept again.
3. Settlement periods are priced the way Mollie prices them (rate × count at 4 decimals), so
   they differ from the rounded deductions by what the invoice compensates.
"""

from __future__ import annotations

import bisect
import heapq
from collections import defaultdict
from datetime import date, timedelta
from typing import TYPE_CHECKING

from sandbox.clock import (
    MonthIndex,
    add_business_days,
    add_months,
    local_at,
    local_date,
    local_midnight,
    next_business_day,
)
from sandbox.ledger_types import label_of
from sandbox.model import (
    NEVER,
    Balance,
    BalanceTransaction,
    Invoice,
    InvoiceLine,
    Organization,
    PeriodLine,
    Settlement,
)
from sandbox.money import percent_of, round_units
from sandbox.pricing import (
    ALL_PRICES,
    CHARGEBACK_PRICES,
    FEE_ROW_PRICES,
    UNAUTHORIZED_DEBIT_PRICE,
    VAT_PERCENTAGE,
    cost_method,
    gross_fee,
    priced_line,
    settlement_method,
)

if TYPE_CHECKING:
    from sandbox.generate import _Generator

METHOD_LABELS = {
    "ideal": "iDEAL",
    "bancontact": "Bancontact",
    "creditcard": "Credit card",
    "applepay": "Apple Pay",
    "paypal": "PayPal",
    "directdebit": "SEPA Direct Debit",
}
# Rows whose money is Mollie's own invoicing: shown as cost lines in the settlement periods.
_INVOICE_TYPES = ("invoice-compensation", "invoice-rounding-compensation")
_PART_COSTS = (
    ("reservations", "Rolling reserve"),
    ("repayments", "Mollie Capital repayments"),
    ("commissions", "Commissions"),
)


class Ledger:
    """Builds the balance ledger, then runs time forward through invoices and payouts."""

    def __init__(self, g: _Generator, org: Organization, balances: list[Balance]) -> None:
        self.g = g
        self.now = g.c.now
        self.org = org
        self.balances = balances
        self.rows: list[BalanceTransaction] = []
        self.settlements: list[Settlement] = []
        self.invoices: list[Invoice] = []
        # Payouts to send back: (not before this epoch, row type, hours later, by the bank?).
        self.bounces: list[tuple[int, str, int]] = []

    def row(
        self,
        key: str,
        balance: Balance,
        type_: str,
        created: int,
        available: int,
        initial: int,
        fee_net: int = 0,
        fee_gross: int = 0,
        fee_key: str | None = None,
        method: str | None = None,
        **context: str,
    ) -> BalanceTransaction:
        row = BalanceTransaction(
            id=self.g.make_id("baltr", key),
            balance_id=balance.id,
            currency=balance.currency,
            type=type_,
            created_at=created,
            available_at=available,
            initial=initial,
            deductions=-fee_gross,
            context=context,
            method=method,
            fee_key=fee_key,
            fee_net=fee_net,
        )
        self.rows.append(row)
        return row

    def fee_row(
        self, key: str, balance: Balance, type_: str, at: int, **context: str
    ) -> BalanceTransaction:
        """A fee booked as a row of its own: nothing moves but the deducted fee."""
        price = FEE_ROW_PRICES[type_]
        return self.row(
            key,
            balance,
            type_,
            at,
            at,
            0,
            price.fixed,
            gross_fee(price.fixed),
            price.key,
            **context,
        )

    def build(self) -> None:
        from sandbox import association, capital, every_type, platform

        self._object_rows()
        c = self.g.c
        if c.association or c.every_type:
            association.add(self)
        if c.platform or c.every_type:
            platform.add(self)
        if c.capital or c.every_type:
            capital.add(self)
        if c.every_type:
            every_type.add(self)
        self.rows = [r for r in self.rows if r.created_at <= self.now]
        self.rows.sort(key=lambda r: (r.created_at, r.id))
        self._run_time_forward()
        self.rows.sort(key=lambda r: (r.created_at, r.id))
        for i, r in enumerate(self.rows):
            r.seq = i

    def _object_rows(self) -> None:
        now = self.now
        bal = {b.id: b for b in self.balances}
        pay = {p.id: p for p in self.g.payments}
        for p in self.g.payments:
            if p.paid_at > now:
                continue
            # A captured (authorise-then-capture) payment lands as a `capture` row instead.
            ids = {"paymentId": p.id} | ({"captureId": p.captures[0]} if p.captures else {})
            kind = "capture" if p.captures else "payment"
            row = self.row(
                f"{kind}:{ids.get('captureId', p.id)}",
                bal[p.balance_id],
                kind,
                p.paid_at,
                p.available_at,
                p.amount,
                p.fee_net,
                p.fee_gross,
                p.method,
                p.method,
                **ids,
            )
            p.transaction_id = row.id
        for c in self.g.captures:
            c.transaction_id = pay[c.payment_id].transaction_id
        for r in self.g.refunds:
            if r.created_at <= now:
                p = pay[r.payment_id]
                row = self.row(
                    f"refund:{r.id}",
                    bal[p.balance_id],
                    "refund",
                    r.created_at,
                    r.created_at,
                    -r.amount,
                    r.fee_net,
                    r.fee_gross,
                    "refund",
                    p.method,
                    paymentId=p.id,
                    refundId=r.id,
                )
                r.transaction_id = row.id
        for cb in self.g.chargebacks:
            p = pay[cb.payment_id]
            fee_key = CHARGEBACK_PRICES[p.method].key
            if cb.created_at <= now:
                row = self.row(
                    f"chargeback:{cb.id}",
                    bal[p.balance_id],
                    "chargeback",
                    cb.created_at,
                    cb.created_at,
                    -cb.amount,
                    cb.fee_net,
                    cb.fee_gross,
                    fee_key,
                    p.method,
                    paymentId=p.id,
                    chargebackId=cb.id,
                )
                cb.transaction_id = row.id
            if cb.reversed_at <= now:
                row = self.row(
                    f"reversal:{cb.id}",
                    bal[p.balance_id],
                    "chargeback-reversal",
                    cb.reversed_at,
                    cb.reversed_at,
                    cb.amount,
                    method=p.method,
                    paymentId=p.id,
                    chargebackId=cb.id,
                )
                cb.reversal_transaction_id = row.id

    def _events(self) -> list[tuple[int, int, str, Balance | tuple[int, int]]]:
        """Invoice issues (first) and payouts, in time order, up to now."""
        events: list[tuple[int, int, str, Balance | tuple[int, int]]] = []
        start = local_date(self.g.c.start)
        last = local_date(self.now)
        d = start
        while d <= last:
            if d.day == 1:
                prev = add_months(d, -1)
                events.append((local_at(d, 3), 0, "invoice", (prev.year, prev.month)))
            events.extend(
                (local_at(d, 6), 1, "payout", b)
                for b in self.balances
                if is_payout_day(b.transfer_frequency, d)
            )
            d += timedelta(days=1)
        return sorted((e for e in events if e[0] <= self.now), key=lambda e: (e[0], e[1]))

    def _run_time_forward(self) -> None:
        # Rows are swept by position: every balance keeps a cursor into its own time-ordered rows.
        per_balance: dict[str, list[BalanceTransaction]] = defaultdict(list)
        for r in self.rows:
            per_balance[r.balance_id].append(r)
        cursor = dict.fromkeys(per_balance, 0)
        for b in self.balances:
            per_balance.setdefault(b.id, [])
            cursor.setdefault(b.id, 0)
        waiting: dict[str, list[tuple[int, int, BalanceTransaction]]] = defaultdict(list)
        ready: dict[str, list[BalanceTransaction]] = defaultdict(list)
        seq_in_month: dict[tuple[int, int], int] = defaultdict(int)
        first_invoice_month = self.g.months.month_of(self.g.c.start)
        bounces = sorted(self.bounces)

        def later_row(row: BalanceTransaction | None, b: Balance) -> None:
            # Later than every row swept so far, so it lands after the cursor.
            if row is not None and row.created_at <= self.now:
                bisect.insort(per_balance[b.id], row, key=lambda r: (r.created_at, r.id))

        for at, _, kind, what in self._events():
            if kind == "invoice":
                if what < first_invoice_month:
                    continue  # no history before the sandbox started
                for b in self.balances:
                    month = month_rows(per_balance[b.id], what)
                    for row in self._issue_invoice(b, what, at, month):
                        later_row(row, b)
                continue
            b = what
            rows = per_balance[b.id]
            i = cursor[b.id]
            while i < len(rows) and rows[i].created_at <= at:
                r = rows[i]
                heapq.heappush(waiting[b.id], (r.available_at, i, r))
                i += 1
            cursor[b.id] = i
            heap = waiting[b.id]
            while heap and heap[0][0] <= at:
                ready[b.id].append(heapq.heappop(heap)[2])
            total = sum(r.result for r in ready[b.id])
            if total < b.transfer_threshold:
                continue
            swept = sorted(ready[b.id], key=lambda r: (r.created_at, r.id))
            ready[b.id] = []
            ym = self.g.months.month_of(at)
            seq_in_month[ym] += 1
            s = self._settle(b, at, swept, total, ym, seq_in_month[ym])
            self.settlements.append(s)
            if bounces and b is self.balances[0] and bounces[0][0] <= at:
                _, type_, hours = bounces.pop(0)
                later_row(self._bounce(s, b, type_, hours), b)

    def _bounce(self, s: Settlement, b: Balance, type_: str, hours: int) -> BalanceTransaction:
        """The payout comes back to the balance: the bank returned it, or it was canceled.

        A cancellation (hours < 24) happens before the bank ever sees the transfer; a return
        comes back business days later, without the deposit ever being booked.
        """
        at = s.created_at + hours * 3600
        if hours >= 24:
            at = add_business_days(s.created_at, hours // 24)
        s.failed_at = at
        s.bank_booking_date = NEVER
        s.paidout_at = NEVER
        return self.row(
            f"{type_}:{s.id}",
            b,
            type_,
            at,
            at,
            s.amount,
            settlementId=s.id,
            transferId=s.transfer_id,
        )

    def _issue_invoice(
        self, b: Balance, ym: tuple[int, int], at: int, rows: list[BalanceTransaction]
    ) -> list[BalanceTransaction]:
        """The month's fee invoice of a balance, and the rows that settle it with the balance."""
        fees: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # count, percentage base
        prepaid = 0
        for r in rows:
            fee = r.fees if r.deductions else 0
            if fee:
                acc = fees[r.fee_key]
                acc[0] += 1
                acc[1] += abs(r.initial)
                prepaid -= fee
            elif r.type == "unauthorized-direct-debit":
                fees[UNAUTHORIZED_DEBIT_PRICE.key][0] += 1
        if not fees:
            return []
        period = f"{ym[0]:04d}-{ym[1]:02d}"
        lines = []
        not_prepaid = 0
        for k, (n, base) in sorted(fees.items()):
            net = round_units(priced_line(ALL_PRICES[k], n, base)[0], 2)
            lines.append(InvoiceLine(period, ALL_PRICES[k].description, n, VAT_PERCENTAGE, net))
            if k == UNAUTHORIZED_DEBIT_PRICE.key:
                not_prepaid = net
        net = sum(line.amount for line in lines)
        vat = round_units(percent_of(net, str(VAT_PERCENTAGE)), 2)
        collected = gross_fee(not_prepaid) if not_prepaid else 0
        issued = local_midnight(local_date(at))
        number = self.balances.index(b) + 1
        inv = Invoice(
            id=self.g.make_id("inv", f"{b.currency}:{period}"),
            reference=f"{ym[0]}.{10_000 + ym[1] * 10 + number}",  # Mollie's style: 2024.10000
            currency=b.currency,
            balance_id=b.id,
            year=ym[0],
            month=ym[1],
            issued_at=issued,
            paid_at=issued + 86_400,
            due_at=issued + 14 * 86_400,
            lines=lines,
            net=net,
            vat=vat,
            gross=net + vat,
            vat_number=self.org.vat_number,
            compensation=prepaid + collected - (net + vat),
            collected=collected,
        )
        self.invoices.append(inv)
        out = []
        if inv.collected:
            row = self.row(
                f"invoice-compensation:{inv.id}",
                b,
                "invoice-compensation",
                at,
                at,
                -inv.collected,
                invoiceId=inv.id,
            )
            inv.collection_transaction_id = row.id
            out.append(row)
        if inv.compensation:
            row = self.row(
                f"invoice-rounding-compensation:{inv.id}",
                b,
                "invoice-rounding-compensation",
                at,
                at,
                inv.compensation,
                invoiceId=inv.id,
            )
            inv.compensation_transaction_id = row.id
            out.append(row)
        return out

    def _settle(
        self,
        b: Balance,
        at: int,
        swept: list[BalanceTransaction],
        total: int,
        ym: tuple[int, int],
        n: int,
    ) -> Settlement:
        stl_id = self.g.make_id("stl", f"{b.id}:{at}")
        transfer_id = self.g.make_id("trf", stl_id)
        payout = self.row(
            f"payout:{stl_id}",
            b,
            "outgoing-transfer",
            at,
            at,
            -total,
            settlementId=stl_id,
            transferId=transfer_id,
        )
        booking = next_business_day(local_date(at))
        s = Settlement(
            id=stl_id,
            reference=f"{self.org.merchant_number}.{ym[0] % 100:02d}{ym[1]:02d}.{n:02d}",
            balance_id=b.id,
            currency=b.currency,
            created_at=at,
            paidout_at=local_at(booking, 9),
            amount=total,
            transaction_ids=[r.id for r in swept],
            transfer_transaction_id=payout.id,
            transfer_id=transfer_id,
            bank_booking_date=local_midnight(booking),
        )
        for r in swept:
            r.settlement_id = stl_id
        fill_settlement(s, swept, self.g.months)
        return s


def month_rows(rows: list[BalanceTransaction], ym: tuple[int, int]) -> list[BalanceTransaction]:
    """The rows created in an Amsterdam month, bisected out of time-ordered rows."""
    first = date(ym[0], ym[1], 1)
    start, end = local_midnight(first), local_midnight(add_months(first, 1))
    lo = bisect.bisect_left(rows, start, key=lambda r: r.created_at)
    hi = bisect.bisect_left(rows, end, key=lambda r: r.created_at)
    return rows[lo:hi]


def fill_settlement(s: Settlement, rows: list[BalanceTransaction], months: MonthIndex) -> None:
    """Give a settlement its sub-lists and periods from the ledger rows it sweeps."""
    for r in rows:
        ctx = r.context
        if r.type in ("payment", "capture"):
            s.payment_ids.append(ctx["paymentId"])
            if r.type == "capture":
                s.capture_ids.append(ctx["captureId"])
        elif r.type == "refund":
            s.refund_ids.append(ctx["refundId"])
        elif r.type == "chargeback":
            s.chargeback_ids.append(ctx["chargebackId"])
    s.periods = periods(rows, months)


def periods(rows: list[BalanceTransaction], months: MonthIndex) -> list[PeriodLine]:
    """Revenue and cost lines per Amsterdam month, built from the swept ledger rows.

    Revenue: the gross (`initialAmount`) per payment method, and per type for everything else.
    Costs: per price-list line, priced as rate × count at 4 decimals (not the sum of the
    rounded deductions); the other parts of the deductions (reserve, repayments, commissions)
    and Mollie's invoice compensations as they were booked.
    """
    revenue: dict[tuple[int, int, str, str | None], list[int]] = defaultdict(lambda: [0, 0])
    costs: dict[tuple[int, int, str], list[int]] = defaultdict(lambda: [0, 0])  # count, base
    booked: dict[tuple[int, int, str], list[int]] = defaultdict(lambda: [0, 0])  # count, amount
    month_of = months.month_of
    for r in rows:
        y, m = month_of(r.created_at)
        t = r.type
        if t == "payment" or t == "capture":
            key = (y, m, METHOD_LABELS[r.method], settlement_method(r.method))
        elif t == "refund":
            key = (y, m, "Refunds", "refund")
        elif t == "chargeback":
            key = (y, m, "Chargebacks", "chargeback")
        elif t == "chargeback-reversal":
            key = (y, m, "Chargeback reversals", "chargeback")
        elif t in _INVOICE_TYPES:
            c = booked[(y, m, label_of(t))]
            c[0] += 1
            c[1] -= r.initial
            continue
        else:
            key = (y, m, label_of(t), None)
        if r.initial:
            acc = revenue[key]
            acc[0] += 1
            acc[1] += r.initial
        fees = r.deductions
        if fees:
            if r.reservations or r.repayments or r.commissions:
                fees = r.fees
                for part, label in _PART_COSTS:
                    value = getattr(r, part)
                    if value:
                        c = booked[(y, m, label)]
                        c[0] += 1
                        c[1] -= value
            if fees:
                c = costs[(y, m, r.fee_key)]
                c[0] += 1
                c[1] += abs(r.initial)
    lines = [
        PeriodLine(y, m, "revenue", desc, method, n, gross, None, gross)
        for (y, m, desc, method), (n, gross) in sorted(revenue.items(), key=lambda kv: kv[0][:3])
    ]
    for (y, m, key), (n, base) in sorted(costs.items()):
        price = ALL_PRICES[key]
        net, vat, gross = priced_line(price, n, base)
        lines.append(
            PeriodLine(
                y,
                m,
                "cost",
                price.description,
                cost_method(key),
                n,
                net,
                vat,
                gross,
                price.fixed,
                price.percentage,
            )
        )
    for (y, m, label), (n, value) in sorted(booked.items()):
        lines.append(PeriodLine(y, m, "cost", label, None, n, value, 0, value))
    return lines


def is_payout_day(frequency: str, d: date) -> bool:
    if frequency in ("daily", "every-day"):
        return d.weekday() < 5
    if frequency.startswith("every-"):
        names = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
        return names[d.weekday()] == frequency.removeprefix("every-")
    if frequency == "monthly":
        return d.day == 1
    return False
