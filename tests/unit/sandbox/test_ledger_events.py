"""The sandbox's ledger behaves like a real Mollie account's (types, deductions, rounding)."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date
from functools import cache
from pathlib import Path

import pytest

from sandbox.bank import statements
from sandbox.clock import DAY, local_date
from sandbox.generate import SandboxConfig, World, build_world
from sandbox.ledger_types import TYPES
from sandbox.money import units
from sandbox.reports import balance_report

FIXTURE = Path(__file__).parents[2] / "fixtures" / "mollie_balance_transaction_types.txt"
NOW = "2026-11-01T00:00:00Z"
NEVER = 2**62

# The context ids Mollie's spec lists per type (descriptions are added when served).
CONTEXT_IDS = {
    "payment": {"paymentId"},
    "capture": {"paymentId", "captureId"},
    "failed-payment": {"paymentId"},
    "failed-payment-fee": {"paymentId"},
    "unauthorized-direct-debit": {"paymentId"},
    "refund": {"paymentId", "refundId"},
    "returned-refund": {"paymentId", "refundId"},
    "refund-compensation": {"paymentId", "refundId"},
    "returned-refund-compensation": {"paymentId", "refundId"},
    "chargeback": {"paymentId", "chargebackId"},
    "chargeback-reversal": {"paymentId", "chargebackId"},
    "chargeback-compensation": {"paymentId", "chargebackId"},
    "reversed-chargeback-compensation": {"paymentId", "chargebackId"},
    "outgoing-transfer": {"settlementId", "transferId"},
    "returned-transfer": {"settlementId", "transferId"},
    "canceled-transfer": {"settlementId", "transferId"},
    "canceled-outgoing-transfer": {"settlementId", "transferId"},
    "invoice-compensation": {"invoiceId"},
    "invoice-rounding-compensation": {"invoiceId"},
    "balance-correction": set(),
    "topup": set(),
    "application-fee": {"paymentId", "paymentDescription", "payingOwner"},
    "split-payment": {"paymentId", "paymentDescription", "paymentOwner"},
    "payment-commission": {"paymentId", "paymentDescription", "organizationId"},
    "platform-payment-refund": {"paymentId", "paymentDescription", "refundId"},
    "platform-payment-chargeback": {"paymentId", "paymentDescription", "chargebackId"},
    "post-payment-split-payment": {"paymentId"},
    "capture-rolling-reserve-release": {"paymentId", "captureId"},
    "cash-advance-loan": set(),
    "movement": set(),
    "platform-connected-organizations-fee": set(),
    "managed-fee": {"feeType", "terminalId"},
}
NEGATIVE = {
    "failed-payment",
    "unauthorized-direct-debit",
    "refund",
    "chargeback",
    "outgoing-transfer",
    "platform-payment-refund",
    "platform-payment-chargeback",
    "invoice-compensation",
    "repayment",
}
POSITIVE = {
    "payment",
    "capture",
    "returned-refund",
    "chargeback-reversal",
    "returned-transfer",
    "canceled-transfer",
    "canceled-outgoing-transfer",
    "topup",
    "loan",
    "application-fee",
    "split-payment",
    "rolling-reserve-release",
}
FEE_ROWS = {"failed-payment-fee", "payment-fee", "reimbursement-fee", "managed-fee"}


def mollie_types() -> list[str]:
    lines = FIXTURE.read_text().splitlines()
    return [line.split("\t")[0] for line in lines if line.strip() and not line.startswith("#")]


@cache
def world(seed: int = 7, **families: bool) -> World:
    config = SandboxConfig.from_cli(seed=seed, payments=3000, days=120, now=NOW)
    from dataclasses import replace

    return build_world(replace(config, **families))


def test_the_type_table_is_mollies_list():
    assert sorted(TYPES) == sorted(mollie_types())


@pytest.mark.parametrize("seed", [7, 42])
def test_every_type_world_has_each_type_with_its_sign_and_context(seed):
    w = world(seed, every_type=True)
    types = Counter(r.type for r in w.transactions)
    assert not [t for t in mollie_types() if not types[t]]
    for r in w.transactions:
        assert r.result == r.initial + r.deductions
        assert r.deductions == r.fees + r.reservations + r.repayments + r.commissions
        assert max(r.fees, r.reservations, r.repayments, r.commissions, 0) == 0, r.type
        if r.type in CONTEXT_IDS:
            assert (
                set(r.context)
                == CONTEXT_IDS[r.type]
                | ({"paymentDescription"} if "paymentDescription" in r.context else set())
                or set(r.context) >= CONTEXT_IDS[r.type]
            ), (r.type, r.context)
        if r.type in NEGATIVE:
            assert r.initial < 0, r.type
        if r.type in POSITIVE:
            assert r.initial > 0, r.type
        if r.type in FEE_ROWS:
            assert r.initial == 0 and r.fees < 0 and r.fee_key, r.type
    splits = [r for r in w.transactions if r.type == "split-payment"]
    assert splits and all(r.commissions < 0 for r in splits)
    assert any(r.repayments < 0 for r in w.transactions), "no Mollie Capital repayment"
    assert any(r.reservations < 0 for r in w.transactions), "no rolling reserve"


def test_default_world_shows_an_associations_life_in_its_first_month():
    w = world()
    first_month = w.config.start + 31 * DAY
    early = Counter(r.type for r in w.transactions if r.created_at < first_month)
    for t in (
        "failed-payment",
        "failed-payment-fee",
        "unauthorized-direct-debit",
        "returned-refund",
        "chargeback",
        "returned-transfer",
        "canceled-transfer",
        "balance-correction",
        "topup",
        "rolling-reserve-release",
        "invoice-compensation",
        "invoice-rounding-compensation",
    ):
        assert early[t], f"a treasurer never sees {t} in the first month"
    assert any(r.reservations for r in w.transactions if r.created_at < first_month)
    platform = {"application-fee", "split-payment", "loan", "repayment", "payment-commission"}
    assert not platform & {r.type for r in w.transactions}, "Connect/Capital are opt-in"


def test_platform_world_has_connect_types_and_commissions():
    types = Counter(r.type for r in world(platform=True).transactions)
    for t in ("application-fee", "split-payment", "payment-commission"):
        assert types[t] > 5, t
    assert types["platform-connected-organizations-fee"] >= 3  # monthly


def test_a_bounced_payout_comes_back_and_is_swept_again():
    w = world()
    rows = {r.id: r for r in w.transactions}
    bounced = [s for s in w.settlements if s.failed_at < NEVER]
    assert {rows[s.transfer_transaction_id].type for s in bounced} == {"outgoing-transfer"}
    refs = {line.end_to_end_id for st in statements(w) for line in st.lines}
    back_rows = [r for r in w.transactions if r.type in ("returned-transfer", "canceled-transfer")]
    assert len(back_rows) == len(bounced) == 2
    for s, back in zip(bounced, sorted(back_rows, key=lambda r: r.created_at), strict=True):
        assert back.context["settlementId"] == s.id and back.initial == s.amount
        assert s.reference not in refs, "a payout that bounced must not land on the bank"
        later = next(x for x in w.settlements if back.id in x.transaction_ids)
        assert later.created_at > s.created_at and later.balance_id == s.balance_id


def test_the_bank_statement_shows_money_moved_outside_payouts():
    """A top-up leaves the bank for Mollie; a custom-amount payout arrives from it."""
    w = world(every_type=True)
    lines = {line.end_to_end_id: line for st in statements(w) for line in st.lines}
    moved = [
        r
        for r in w.transactions
        if r.type
        in ("topup", "balance-topup", "incoming-transfer", "outgoing-custom-amount-transfer")
    ]
    assert len(moved) == 4
    for r in moved:
        assert lines[r.id].amount == -r.result, r.type
    deposits = {s.reference for s in w.settlements if s.failed_at == NEVER}
    booked = {ref for ref in lines if ref in w.settlement_by_reference}
    assert booked <= deposits


def test_settlement_worked_by_hand_periods_vs_deductions_and_the_invoice():
    """One settlement, by hand: iDEAL costs € 0.29 + 21 % VAT per payment.

    Mollie deducts 0.29 × 1.21 = 0.3509, rounded to € 0.35, from each payment; the period line
    is priced as rate × count: n × 0.29 = net, + 21 % = gross at 4 decimals, i.e. n × 0.3509.
    The settlement's amount follows the deductions (n × 0.35), so the period is n × 0.0009 more
    than the ledger; the month's invoice (net rounded to cents, VAT on the net) settles the
    month's whole difference with an invoice-rounding-compensation row.
    """
    w = world()
    rows = {r.id: r for r in w.transactions}
    s = next(
        s
        for s in w.settlements
        if s.currency == "EUR" and s.failed_at == NEVER and len(s.transaction_ids) > 20
    )
    ideal_rows = [
        rows[i]
        for i in s.transaction_ids
        if rows[i].fee_key == "ideal" and w.months.month_of(rows[i].created_at) == (2026, 7)
    ]
    n = len(ideal_rows)
    assert n > 5
    assert all(r.fees == -units("0.35") for r in ideal_rows)
    [line] = [
        p
        for p in s.periods
        if p.kind == "cost" and p.description == "iDEAL transaction fees" and p.month == 7
    ]
    assert line.count == n
    assert line.net == n * units("0.29")
    assert line.vat == n * units("0.0609")
    assert line.gross == n * units("0.3509")
    deducted = -sum(r.fees for r in ideal_rows)
    assert deducted == n * units("0.35")
    assert line.gross - deducted == n * units("0.0009")
    # The settlement: revenue − costs − amount is exactly what the fee lines' rounding explains.
    swept = [rows[i] for i in s.transaction_ids]
    by_key = defaultdict(int)
    for r in swept:
        if r.fees:
            by_key[(w.months.month_of(r.created_at), r.fee_key)] -= r.fees
    fee_lines = [p for p in s.periods if p.kind == "cost" and p.rate_fixed is not None]
    rounding = sum(p.gross for p in fee_lines) - sum(by_key.values())
    revenue = sum(p.gross for p in s.periods if p.kind == "revenue")
    costs = sum(p.gross for p in s.periods if p.kind == "cost")
    assert revenue - costs == s.amount - rounding
    # The invoice of July compensates the month's difference on the balance.
    inv = next(i for i in w.invoices if (i.currency, i.year, i.month) == ("EUR", 2026, 7))
    month_fees = -sum(
        r.fees
        for r in w.transactions
        if r.currency == "EUR" and w.months.month_of(r.created_at) == (2026, 7)
    )
    assert month_fees + inv.collected - inv.compensation == inv.gross
    comp = rows[inv.compensation_transaction_id]
    assert comp.type == "invoice-rounding-compensation" and comp.initial == inv.compensation
    assert local_date(comp.created_at) == date(2026, 8, 1)


def test_balance_report_until_is_exclusive_and_answered_as_the_last_day():
    w = world()
    b = w.balances[0]
    rep = balance_report(w, b, date(2026, 9, 1), date(2026, 10, 1), "status-balances")
    assert (rep["from"], rep["until"]) == ("2026-09-01", "2026-09-30")
    one_day = balance_report(w, b, date(2026, 9, 30), date(2026, 10, 1), "status-balances")
    assert (one_day["from"], one_day["until"]) == ("2026-09-30", "2026-09-30")
    # The month's report closes where the next day's report opens.
    nxt = balance_report(w, b, date(2026, 10, 1), date(2026, 10, 2), "status-balances")
    for side in ("pendingBalance", "availableBalance"):
        assert rep["totals"][side]["close"] == nxt["totals"][side]["open"]


def test_the_opt_in_worlds_pass_through_the_environment():
    from sandbox.demo import sandbox_config

    assert not sandbox_config({}).every_type and sandbox_config({}).association
    config = sandbox_config(
        {"MOLLIE_LEDGER_SANDBOX_EVERY_TYPE": "1", "MOLLIE_LEDGER_SANDBOX_PLATFORM": "1"}
    )
    assert config.every_type and config.platform


def test_fee_prepayments_split_into_fee_vat_and_rounding_as_mollie_reports_them():
    """iDEAL: fee 0.29, VAT 0.0609, deducted 0.35, so −0.0009 of rounding per payment."""
    from decimal import Decimal

    w = world()
    rep = balance_report(w, w.balances[0], date(2026, 9, 1), date(2026, 10, 1), "status-balances")
    groups = [rep["totals"]["pendingBalance"]["pending"]]
    groups.append(rep["totals"]["availableBalance"]["immediatelyAvailable"])
    seen = 0
    for group in groups:
        for item in group["subtotals"]:
            if item["transactionType"] != "fee-prepayment":
                continue
            parts = {p["prepaymentPartType"]: p for p in item["subtotals"]}
            total = sum(Decimal(p["amount"]["value"]) for p in parts.values())
            assert total == Decimal(item["amount"]["value"])
            fee = parts["fee"]
            assert sum(Decimal(s["amount"]["value"]) for s in fee["subtotals"]) == Decimal(
                fee["amount"]["value"]
            )
            for sub in fee["subtotals"]:
                if sub.get("method") == "ideal" and sub["feeType"] == "payment-fee":
                    n = sub["count"]
                    assert Decimal(sub["amount"]["value"]) == -Decimal("0.29") * n
                    seen += 1
    assert seen
