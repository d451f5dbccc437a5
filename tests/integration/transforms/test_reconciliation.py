"""Reconciliation on real sandbox data: clean books tie out, and each corruption is caught
by the right check on the right object (docs/design.md, Reconciliation identities)."""

from __future__ import annotations

from decimal import Decimal

import duckdb
from ledger_rows import findings

from sandbox.bank import write_camt053
from sandbox.generate import SandboxConfig, build_world


def one(con, sql, *params):
    return con.execute(sql, list(params)).fetchone()


def test_clean_books_have_no_findings_and_every_payout_matches(clean_warehouse):
    con = duckdb.connect(str(clean_warehouse), read_only=True)
    assert con.execute("select count(*) from marts.reconciliation_exceptions").fetchone()[0] == 0
    statuses = dict(
        con.execute(
            "select status, count(*) from marts.settlement_reconciliation "
            "where settlement_status = 'paidout' group by all"
        ).fetchall()
    )
    assert statuses.get("matched", 0) > 10 and set(statuses) == {"matched"}
    unmatched_bank = one(
        con,
        "select count(*) from marts.settlement_reconciliation "
        "where settlement_status = 'paidout' and bank_matched_by is null "
        "and bank_deposit_expected",
    )[0]
    assert unmatched_bank == 0
    assert (
        one(
            con,
            "select count(*) from marts.settlement_reconciliation "
            "where bank_matched_by = 'reference'",
        )[0]
        > 10
    )


def test_every_journal_entry_balances_exactly(clean_warehouse):
    con = duckdb.connect(str(clean_warehouse), read_only=True)
    rows = con.execute(
        "select posting_key, sum(debit), sum(credit), count(*) from marts.journal_entry_lines "
        "group by posting_key"
    ).fetchall()
    assert len(rows) > 10
    for key, debit, credit, n in rows:
        assert isinstance(debit, Decimal) and debit == credit and debit > 0, key
        assert n >= 2
    paid_out = one(
        con,
        "select count(*) from marts.settlement_reconciliation where payout_amount is not null",
    )[0]
    entries = one(con, "select count(*) from marts.journal_entries where entry_type = 'payout'")[0]
    assert entries == paid_out
    # The bank line of each payout entry is exactly its settlement's payout.
    bad = con.execute(
        "select e.posting_key from marts.journal_entries e "
        "join marts.journal_entry_lines l using (posting_key) "
        "join marts.settlement_reconciliation s on s.settlement_id = e.source_id "
        "where l.role = 'bank' and l.debit - l.credit <> s.amount"
    ).fetchall()
    assert bad == []


def a_settlement(con, n: int = 3) -> tuple[str, str]:
    return one(
        con,
        "select settlement_id, reference from marts.settlement_reconciliation "
        "where status = 'matched' order by settled_at limit 1 offset ?",
        n,
    )


def test_settlement_amount_off_by_a_cent(clean_warehouse, corrupt):
    con = duckdb.connect(str(clean_warehouse), read_only=True)
    stl, _ = a_settlement(con)
    con.close()
    bad = corrupt(f"update mollie.settlements set amount = amount + 0.01 where id = '{stl}'")
    found = findings(bad)
    assert ("settlement_ledger_net", "settlement", stl) in found
    assert ("payout_transfer_amount", "settlement", stl) in found
    # A cent is within Mollie's own rounding between period lines and deductions (half a cent
    # per transaction counted), so the periods check does not report it; the ledger does.
    assert ("settlement_periods_total", "settlement", stl) not in found
    assert {f[2] for f in found} == {stl}, "only the corrupted settlement is reported"
    assert (
        one(bad, "select status from marts.settlement_reconciliation where settlement_id = ?", stl)[
            0
        ]
        == "mismatch"
    )
    assert one(bad, "select count(*) from marts.journal_entries where source_id = ?", stl)[0] == 0


def test_changed_deduction_breaks_the_row_identity(clean_warehouse, corrupt):
    con = duckdb.connect(str(clean_warehouse), read_only=True)
    row = one(
        con,
        "select transaction_id from marts.balance_ledger where category = 'payment' "
        "and settlement_id is not null limit 1",
    )[0]
    con.close()
    bad = corrupt(
        f"update mollie.balance_transactions set deductions = deductions - 0.01 where id = '{row}'"
    )
    assert ("ledger_row_arithmetic", "balance_transaction", row) in findings(bad)


def test_missing_ledger_row_is_found_three_ways(clean_warehouse, corrupt):
    con = duckdb.connect(str(clean_warehouse), read_only=True)
    row, payment, stl, day = one(
        con,
        "select transaction_id, payment_id, settlement_id, created_date from marts.balance_ledger "
        "where category = 'payment' and settlement_id is not null "
        "order by created_at limit 1 offset 40",
    )
    report = one(
        con,
        "select report_id from marts.balance_reconciliation r "
        "join marts.balance_ledger l on l.balance_id = r.balance_id "
        "where l.transaction_id = ? and r.report_date = ?",
        row,
        day,
    )[0]
    con.close()
    bad = corrupt(f"delete from mollie.balance_transactions where id = '{row}'")
    found = findings(bad)
    assert ("settlement_ledger_net", "settlement", stl) in found
    assert ("settlement_membership", "payment", payment) in found
    assert ("balance_report_vs_ledger", "balance_report", report) in found


def test_payment_in_two_settlements(clean_warehouse, corrupt):
    con = duckdb.connect(str(clean_warehouse), read_only=True)
    stl_a, _ = a_settlement(con, 2)
    stl_b, _ = a_settlement(con, 5)
    payment = one(
        con,
        "select payment_id from staging.stg_mollie__settlement_payments "
        "where settlement_id = ? limit 1",
        stl_a,
    )[0]
    con.close()
    bad = corrupt(
        f"insert into mollie.settlement_payments select * replace ('{stl_b}' as settlement_id) "
        f"from mollie.settlement_payments where settlement_id = '{stl_a}' and id = '{payment}'"
    )
    found = findings(bad)
    assert ("settlement_membership", "payment", payment) in found
    claimed = {f[2] for f in found if f[:2] == ("settlement_membership", "balance_transaction")}
    assert len(claimed) == 1
    assert ("settlement_ledger_net", "settlement", stl_b) in found
    statuses = dict(
        bad.execute(
            "select settlement_id, status from marts.settlement_reconciliation "
            "where settlement_id in (?, ?)",
            [stl_a, stl_b],
        ).fetchall()
    )
    assert statuses == {stl_a: "mismatch", stl_b: "mismatch"}


def test_invoice_not_matching_the_fees(clean_warehouse, corrupt):
    con = duckdb.connect(str(clean_warehouse), read_only=True)
    inv = one(con, "select invoice_id from marts.fee_invoice_reconciliation limit 1")[0]
    con.close()
    bad = corrupt(f"update mollie.invoices set gross_amount = gross_amount + 1 where id = '{inv}'")
    assert ("fee_invoice", "invoice", inv) in findings(bad)
    assert (
        bad.execute(
            "select count(*) from marts.journal_entries where source_id = ?", [inv]
        ).fetchone()[0]
        == 0
    )


def test_balance_report_that_does_not_add_up(clean_warehouse, corrupt):
    con = duckdb.connect(str(clean_warehouse), read_only=True)
    report = one(
        con, "select report_id from marts.balance_reconciliation where ledger_rows > 0 limit 1"
    )[0]
    con.close()
    bad = corrupt(
        f"update mollie.balance_reports set amount = amount + 1 where report_id = "
        f"'{report}' and path = 'availableBalance.close'"
    )
    assert ("balance_report_arithmetic", "balance_report", report) in findings(bad)


def _world_for(clean_warehouse):
    seed = 7 if "wh7" in str(clean_warehouse) else 23
    return build_world(
        SandboxConfig.from_cli(seed=seed, payments=900, days=70, now="2026-11-01T00:00:00Z")
    )


def test_bank_deposit_missing(clean_warehouse, corrupt, tmp_path):
    con = duckdb.connect(str(clean_warehouse), read_only=True)
    stl, ref = a_settlement(con, 20)
    con.close()
    write_camt053(_world_for(clean_warehouse), tmp_path / "bank", omit={ref})
    bad = corrupt(bank=tmp_path / "bank")
    found = findings(bad)
    assert ("bank_deposit_missing", "settlement", stl) in found
    assert {f[0] for f in found} == {"bank_deposit_missing"}


def test_bank_deposit_late(clean_warehouse, corrupt, tmp_path):
    con = duckdb.connect(str(clean_warehouse), read_only=True)
    stl, ref = a_settlement(con, 20)
    con.close()
    write_camt053(_world_for(clean_warehouse), tmp_path / "bank", delay_days={ref: 6})
    bad = corrupt(bank=tmp_path / "bank")
    assert ("bank_deposit_late", "settlement", stl) in findings(bad, "warning")
    assert findings(bad) == set()
