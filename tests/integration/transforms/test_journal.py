"""The journal on real sandbox data: the clearing account is real (day, payout, payout-return and
fee-VAT entries), every entry balances exactly, the clearing identity holds on every day, each
account role lands on its account, and what cannot be booked is held, never rounded away."""

from __future__ import annotations

import dataclasses
import shutil
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from journal_rows import first_type_per_category, row_sql

from transforms.build import build_model, prepare
from transforms.config import LedgerConfig
from transforms.models import discover

TYPE_MAP = (
    Path(__file__).resolve().parents[3] / "transforms" / "seeds" / "balance_transaction_types.csv"
)
CONFIG = LedgerConfig.load(env={})
D = Decimal


def one(con, sql, *params):
    return con.execute(sql, list(params)).fetchone()


def lines_of(con, key: str) -> set[tuple[str, str, Decimal, Decimal]]:
    return set(
        con.execute(
            "select role, account, debit, credit from marts.journal_entry_lines "
            "where posting_key = ?",
            [key],
        ).fetchall()
    )


def account(role: str) -> str:
    return CONFIG.clearing_accounts["EUR"] if role == "clearing" else CONFIG.accounts[role]


def line(role: str, amount: Decimal) -> tuple[str, str, Decimal, Decimal]:
    """A line as the mart holds it, from an amount signed as a debit."""
    return role, account(role), max(amount, D(0)), max(-amount, D(0))


def eur_balance(con) -> str:
    return one(con, "select balance_id from staging.stg_mollie__balances where currency = 'EUR'")[0]


def last_row_at(con, balance: str) -> datetime:
    """When the balance's newest ledger row was created."""
    sql = (
        "select max(created_at) from staging.stg_mollie__balance_transactions where balance_id = ?"
    )
    return one(con, sql, balance)[0]


# -- the clean worlds ----------------------------------------------------------------------------


def test_every_entry_balances_exactly_and_books_every_ledger_row_once(clean_warehouse):
    con = duckdb.connect(str(clean_warehouse), read_only=True)
    rows = con.execute(
        "select posting_key, sum(debit), sum(credit), count(*), "
        "bool_and((debit = 0) <> (credit = 0)) from marts.journal_entry_lines group by all"
    ).fetchall()
    assert len(rows) > 50
    for key, debit, credit, n, one_sided in rows:
        assert isinstance(debit, Decimal) and isinstance(credit, Decimal), key
        assert debit == credit and debit > 0 and n >= 2 and one_sided, key
    assert (
        one(con, "select count(*) from marts.journal_entry_status where hold_reason is not null")[0]
        == 0
    )
    assert (
        one(con, "select count(*) from marts.journal_entry_lines where role = 'rounding'")[0] == 0
    )
    # Per balance, the clearing lines of all entries add up to Mollie's ledger, row for row.
    journal = dict(
        con.execute(
            "select s.balance_id, sum(l.debit - l.credit) from marts.journal_entry_lines l "
            "join marts.journal_entry_status s using (posting_key) where l.role = 'clearing' "
            "group by all"
        ).fetchall()
    )
    ledger = dict(
        con.execute(
            "select balance_id, sum(result_amount) from staging.stg_mollie__balance_transactions "
            "group by all"
        ).fetchall()
    )
    assert journal == ledger
    # Receipts land on the day they happened, whatever day they were paid out.
    by_day = con.execute(
        "select count(*) from staging.stg_mollie__balance_transactions t "
        "where t.type = 'payment' and 'mollie-day-' || t.balance_id || '-' || "
        "strftime(t.created_date, '%Y-%m-%d') not in (select posting_key from "
        "marts.journal_entries)"
    ).fetchone()[0]
    assert by_day == 0


def test_clearing_identity_holds_on_every_day(clean_warehouse):
    con = duckdb.connect(str(clean_warehouse), read_only=True)
    reports = one(con, "select count(*) from marts.balance_reconciliation")[0]
    statuses = dict(
        con.execute(
            "select status, count(*) from marts.clearing_reconciliation group by all"
        ).fetchall()
    )
    assert statuses == {"matched": reports} and reports > 100
    # The identity is not trivially zero: the clearing account carries Mollie's balance.
    assert one(con, "select max(journal_close) from marts.clearing_reconciliation")[0] > 100
    closing = dict(
        con.execute(
            "select balance_id, journal_close from marts.clearing_reconciliation "
            "qualify report_date = max(report_date) over (partition by balance_id)"
        ).fetchall()
    )
    balances = dict(
        con.execute("select balance_id, total_amount from staging.stg_mollie__balances").fetchall()
    )
    assert closing == balances  # and at the end, Mollie's balance endpoint agrees
    assert (
        one(
            con,
            "select count(*) from marts.reconciliation_exceptions "
            "where check_name = 'clearing_balance'",
        )[0]
        == 0
    )


def test_payout_entries_move_each_payout_from_clearing_to_bank(clean_warehouse):
    con = duckdb.connect(str(clean_warehouse), read_only=True)
    payouts = con.execute(
        "select e.posting_key, e.voucher_type, e.posting_date, e.cheque_no, e.cheque_date, "
        "s.reference, s.settled_date, s.amount, "
        "(select min(t.created_date) from staging.stg_mollie__balance_transactions t "
        " where t.settlement_id = s.settlement_id and t.type = 'outgoing-transfer') "
        "from marts.journal_entries e join staging.stg_mollie__settlements s "
        "on e.source_id = s.settlement_id where e.entry_type = 'payout'"
    ).fetchall()
    transfers = one(
        con,
        "select count(distinct settlement_id) from staging.stg_mollie__balance_transactions "
        "where type = 'outgoing-transfer'",
    )[0]
    assert len(payouts) == transfers > 10
    for key, voucher, posted, cheque_no, cheque_date, ref, settled, amount, left in payouts:
        assert (voucher, cheque_no, cheque_date, posted) == ("Bank Entry", ref, settled, left), key
        currency = one(con, "select currency from marts.journal_entries where posting_key = ?", key)
        clearing = CONFIG.clearing_accounts[currency[0]]
        assert lines_of(con, key) == {
            ("bank", CONFIG.accounts["bank"], amount, D(0)),
            ("clearing", clearing, D(0), amount),
        }


# -- injected rows -------------------------------------------------------------------------------


def test_a_row_of_each_category_lands_on_its_accounts(clean_warehouse, corrupt):
    con = duckdb.connect(str(clean_warehouse), read_only=True)
    balance = eur_balance(con)
    # A payout bounces after everything else, so no settlement sweeps the return.
    settlement, reference = one(
        con,
        "select settlement_id, reference from marts.settlement_reconciliation "
        "where currency = 'EUR' and status = 'matched' order by settled_at desc limit 1",
    )
    last = last_row_at(con, balance)
    first_report = one(
        con,
        "select min(report_date) from marts.balance_reconciliation where balance_id = ?",
        balance,
    )[0]
    con.close()
    # Days before the balance's first activity but inside the reported history: one per row.
    day0 = datetime(first_report.year, first_report.month, first_report.day, 10, tzinfo=UTC)
    categories = first_type_per_category()
    statements, expected = [], {}
    for n, (category, spec) in enumerate(sorted(categories.items()), start=1):
        at = day0 + timedelta(days=n)
        tid = f"baltr_inj{n}"
        gross = D("-12.34") if spec["initial_sign"] == "-" else D("12.34")
        kwargs = {}
        if category == "payout":
            kwargs["transfer"] = "trf_inj"  # a custom-amount payout: no settlement
        if category == "payout_reversal":
            kwargs["settlement"] = settlement
            at = last + timedelta(minutes=1)
        statements.append(row_sql(tid, spec["type"], at, gross, balance, **kwargs))
        key = {
            "payout": f"mollie-payout-{tid}",
            "payout_reversal": f"mollie-payout-return-{tid}",
        }.get(category, f"mollie-day-{balance}-{at.date().isoformat()}")
        expected[category] = (key, {line("clearing", gross), line(spec["account_role"], -gross)})
    # deductionDetails: each part to its own role, on the row's day.
    at = day0 + timedelta(days=len(categories) + 1)
    statements.append(
        row_sql(
            "baltr_injded",
            "payment",
            at,
            D("100.00"),
            balance,
            fees=D("-2.00"),
            reservations=D("-10.00"),
            repayments=D("-5.00"),
            commissions=D("-1.00"),
        )
    )
    ded_key = f"mollie-day-{balance}-{at.date().isoformat()}"

    bad = corrupt(*statements)

    for category, (key, want) in expected.items():
        assert lines_of(bad, key) == want, category
        status = one(
            bad, "select hold_reason from marts.journal_entry_status where posting_key = ?", key
        )
        assert status == (None,), (category, status)
    assert lines_of(bad, ded_key) == {
        line("clearing", D("82.00")),
        line("receipts", D("-100.00")),
        line("fees", D("2.00")),
        line("reserve", D("10.00")),
        line("loan", D("5.00")),
        line("commissions", D("1.00")),
    }
    header = one(
        bad,
        "select voucher_type, cheque_no from marts.journal_entries where posting_key = ?",
        expected["payout_reversal"][0],
    )
    assert header == ("Bank Entry", reference)  # the bounced payout names the settlement
    # Mollie's balance report knows none of these rows: the identity is off from the first.
    off = bad.execute(
        "select min(report_date) from marts.clearing_reconciliation "
        "where balance_id = ? and status = 'off'",
        [balance],
    ).fetchone()[0]
    assert off == (day0 + timedelta(days=1)).date()
    assert (
        one(bad, "select count(*) from marts.journal_entry_lines where role = 'rounding'")[0] == 0
    )


def test_bounced_payout_reverses_it_from_bank_to_clearing(clean_warehouse, corrupt):
    con = duckdb.connect(str(clean_warehouse), read_only=True)
    balance = eur_balance(con)
    stl, ref, amount = one(
        con,
        "select settlement_id, reference, amount from marts.settlement_reconciliation "
        "where currency = 'EUR' and status = 'matched' order by settled_at desc limit 1",
    )
    # After everything else: the return arrives when the bank sends the payout back.
    back = last_row_at(con, balance) + timedelta(hours=1)
    con.close()
    bad = corrupt(
        row_sql(
            "baltr_bounce",
            "returned-transfer",
            back,
            amount,
            balance,
            settlement=stl,
            transfer="trf_x",
        )
    )
    key = "mollie-payout-return-baltr_bounce"
    back_day = back.astimezone(_amsterdam()).date()
    assert lines_of(bad, key) == {line("clearing", amount), line("bank", -amount)}
    assert one(
        bad,
        "select voucher_type, posting_date, cheque_no, cheque_date from marts.journal_entries "
        "where posting_key = ?",
        key,
    ) == ("Bank Entry", back_day, ref, back_day)
    # The original payout entry stays: the return reverses it, on the day it arrived.
    assert (
        one(
            bad,
            "select count(*) from marts.journal_entries where posting_key = ?",
            f"mollie-payout-{stl}",
        )[0]
        == 1
    )


def test_held_payout_and_its_return_wait_and_the_identity_says_why(clean_warehouse, corrupt):
    con = duckdb.connect(str(clean_warehouse), read_only=True)
    balance = eur_balance(con)
    stl, amount = one(
        con,
        "select settlement_id, amount from marts.settlement_reconciliation "
        "where currency = 'EUR' and status = 'matched' order by settled_at desc limit 1",
    )
    back = last_row_at(con, balance) + timedelta(hours=1)
    con.close()
    bad = corrupt(
        f"update mollie.settlements set amount = amount + 0.01 where id = '{stl}'",
        row_sql("baltr_back", "canceled-transfer", back, amount, balance, settlement=stl),
    )
    held = dict(
        bad.execute(
            "select posting_key, hold_reason from marts.journal_entry_status "
            "where hold_reason is not null"
        ).fetchall()
    )
    assert set(held) == {f"mollie-payout-{stl}", "mollie-payout-return-baltr_back"}
    assert f"settlement {stl} is in review" in held[f"mollie-payout-{stl}"]
    assert "the payout it reverses is held" in held["mollie-payout-return-baltr_back"]
    assert one(bad, "select count(*) from marts.journal_entries where source_id = ?", stl)[0] == 0
    # Until the (injected) return, the journal is off Mollie's balance by exactly the held
    # payout: 'held', with the hold as the finding, never an unexplained 'off'.
    statuses = dict(
        bad.execute(
            "select status, count(*) from marts.clearing_reconciliation where balance_id = ? "
            "and report_date < ? group by all",
            [balance, back.astimezone(_amsterdam()).date()],
        ).fetchall()
    )
    assert statuses.get("held", 0) >= 1 and "off" not in statuses


def test_unknown_type_and_a_running_day_hold_their_day_entry(clean_warehouse, corrupt):
    con = duckdb.connect(str(clean_warehouse), read_only=True)
    balance = eur_balance(con)
    day = one(
        con,
        "select max(created_at) from staging.stg_mollie__balance_transactions "
        "where type = 'payment'",
    )[0]
    con.close()
    bad = corrupt(
        row_sql("baltr_new", "a-type-mollie-adds-tomorrow", day, D("-7.00"), balance),
        row_sql("baltr_now", "payment", datetime.now(UTC), D("5.00"), balance),
    )
    day_key = f"mollie-day-{balance}-{day.astimezone(_amsterdam()).date().isoformat()}"
    reason = one(
        bad, "select hold_reason from marts.journal_entry_status where posting_key = ?", day_key
    )[0]
    assert "a-type-mollie-adds-tomorrow baltr_new" in reason
    assert (
        one(bad, "select count(*) from marts.journal_entries where posting_key = ?", day_key)[0]
        == 0
    )
    today = one(
        bad,
        "select hold_reason from marts.journal_entry_status where entry_type = 'day' "
        "and posting_date = (now() at time zone 'Europe/Amsterdam')::date",
    )[0]
    assert "not over yet" in today
    assert (
        one(bad, "select count(*) from marts.journal_entry_lines where role = 'rounding'")[0] == 0
    )


def _amsterdam():
    from zoneinfo import ZoneInfo

    return ZoneInfo("Europe/Amsterdam")


@pytest.mark.parametrize(("tolerance", "held"), [("0.01", False), ("0", True)])
def test_rounding_carries_at_most_the_tolerance(clean_warehouse, tmp_path, tolerance, held):
    db = tmp_path / "w.duckdb"
    shutil.copy(clean_warehouse, db)
    con = duckdb.connect(str(db))
    balance = eur_balance(con)
    at = one(
        con,
        "select min(created_at) from staging.stg_mollie__balance_transactions where balance_id = ?",
        balance,
    )[0]
    # Mollie's details short of its deductions by a cent: the row's sides differ by 0.01.
    con.execute(
        row_sql("baltr_cent", "payment", at, D("50.00"), balance, fees=D("-0.99"), net=D("49.00"))
    )
    config = dataclasses.replace(CONFIG, tolerances={**CONFIG.tolerances, "rounding": D(tolerance)})
    prepare(con, config, "test-pii-key")
    for model in discover():
        build_model(con, model)
    key = f"mollie-day-{balance}-{at.astimezone(_amsterdam()).date().isoformat()}"
    reason = one(
        con, "select hold_reason from marts.journal_entry_status where posting_key = ?", key
    )[0]
    if held:
        assert "needs -0.01 of rounding, more than the rounding tolerance" in reason
        assert (
            one(con, "select count(*) from marts.journal_entries where posting_key = ?", key)[0]
            == 0
        )
    else:
        assert reason is None
        assert ("rounding", CONFIG.accounts["rounding"], D("0.01"), D("0.00")) in lines_of(con, key)
        debit, credit = one(
            con,
            "select total_debit, total_credit from marts.journal_entries where posting_key = ?",
            key,
        )
        assert debit == credit
    con.close()
