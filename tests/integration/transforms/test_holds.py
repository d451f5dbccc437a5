"""Holds on real sandbox data: what may not be posted is held on the right settlement, with the
right finding, and nothing else changes (an unknown type, a deposit that differs, periods beyond
Mollie's rounding, Rounding beyond its tolerance); late rows belong to the settlement whose
window holds them; two statement accounts in one currency keep one row per settlement."""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

import duckdb
from ledger_rows import findings, row_sql


def one(con, sql, *params):
    return con.execute(sql, list(params)).fetchone()


def window_of(con, n: int = 5) -> tuple[str, str, str]:
    """A matched EUR settlement with a previous one, and an instant inside its window."""
    return one(
        con,
        "with s as (select settlement_id, reference, settled_at, status, currency, "
        "lag(settled_at) over (partition by balance_id order by settled_at, settlement_id) as prev "
        "from marts.settlement_reconciliation where settlement_status = 'paidout') "
        "select settlement_id, reference, "
        "strftime(prev + (settled_at - prev) / 2, '%Y-%m-%dT%H:%M:%SZ') "
        "from s where status = 'matched' and currency = 'EUR' and prev is not null "
        "order by settled_at limit 1 offset ?",
        n,
    )


def statuses(con) -> dict[str, tuple[str, str | None]]:
    return {
        sid: (status, hold)
        for sid, status, hold in con.execute(
            "select settlement_id, status, hold_reason from marts.settlement_reconciliation"
        ).fetchall()
    }


def posted(con, settlement_id: str) -> int:
    return one(
        con, "select count(*) from marts.journal_entries where source_id = ?", settlement_id
    )[0]


def test_unknown_type_is_a_finding_that_holds_its_settlement(clean_warehouse, corrupt):
    con = duckdb.connect(str(clean_warehouse), read_only=True)
    stl, _, at = window_of(con)
    before = statuses(con)
    con.close()
    # Mollie adds a type (+1.00) and corrects the balance by -1.00 the same moment, so the
    # settlement's totals do not move and only the type itself can hold it.
    bad = corrupt(
        row_sql("baltr_newtype", "brand-new-type", at, Decimal("1.00")),
        row_sql("baltr_fixup", "balance-correction", at, Decimal("-1.00")),
    )
    errors = findings(bad)
    assert errors == {("unknown_transaction_type", "balance_transaction", "baltr_newtype")}
    after = statuses(bad)
    assert after[stl] == ("mismatch", "unknown_transaction_type")
    assert {k: v for k, v in after.items() if k != stl} == {
        k: v for k, v in before.items() if k != stl
    }
    assert posted(bad, stl) == 0
    category, settlement = one(
        bad,
        "select category, settlement_id from marts.balance_ledger "
        "where transaction_id = 'baltr_newtype'",
    )
    assert category is None and settlement == stl
    rounding = one(
        bad,
        "select count(*) from marts.journal_entry_lines where role = 'rounding' and "
        "posting_key = ?",
        f"mollie-settlement-{stl}",
    )[0]
    assert rounding == 0


def test_bank_deposit_that_differs_holds_the_payout(clean_warehouse, corrupt):
    con = duckdb.connect(str(clean_warehouse), read_only=True)
    stl, ref = one(
        con,
        "select settlement_id, reference from marts.settlement_reconciliation "
        "where status = 'matched' and bank_matched_by = 'reference' order by settled_at "
        "limit 1 offset 4",
    )
    con.close()
    bad = corrupt(
        "update bank.statement_lines set amount = amount + 60.35 "
        f"where end_to_end_id = '{ref}' or description like '%{ref}%'"
    )
    assert findings(bad) == {("bank_deposit_amount", "settlement", stl)}
    assert statuses(bad)[stl] == ("mismatch", "bank_deposit_amount")
    assert posted(bad, stl) == 0


def test_late_returned_refund_belongs_to_the_settlement_whose_window_holds_it(
    clean_warehouse, corrupt
):
    con = duckdb.connect(str(clean_warehouse), read_only=True)
    # A refund settled early, and a settlement weeks later on the same balance.
    first, refund, payment, amount = one(
        con,
        "select sr.settlement_id, sr.refund_id, r.payment_id, r.amount "
        "from staging.stg_mollie__settlement_refunds sr "
        "join staging.stg_mollie__refunds r using (refund_id) "
        "join marts.settlement_reconciliation s on s.settlement_id = sr.settlement_id "
        "where s.status = 'matched' and s.currency = 'EUR' order by s.settled_at limit 1",
    )
    later, _, at = one(
        con,
        "with s as (select settlement_id, reference, settled_at, status, currency, "
        "lag(settled_at) over (partition by balance_id order by settled_at, settlement_id) as prev "
        "from marts.settlement_reconciliation where settlement_status = 'paidout') "
        "select settlement_id, reference, "
        "strftime(prev + (settled_at - prev) / 2, '%Y-%m-%dT%H:%M:%SZ') from s "
        "where status = 'matched' and currency = 'EUR' "
        "and settled_at > (select settled_at from marts.settlement_reconciliation "
        "where settlement_id = ?) + interval 14 day order by settled_at limit 1",
        first,
    )
    before = statuses(con)
    con.close()
    # The bank sends the refund back; that same day a correction takes the same amount, so the
    # later settlement's totals stay as Mollie reported them and only the tie is under test.
    bad = corrupt(
        row_sql(
            "baltr_returned",
            "returned-refund",
            at,
            Decimal(amount),
            refund_id=refund,
            payment_id=payment,
        ),
        row_sql("baltr_correction", "balance-correction", at, -Decimal(amount)),
    )
    claimed = dict(
        bad.execute(
            "select transaction_id, settlement_id from marts.balance_ledger "
            "where transaction_id in ('baltr_returned', 'baltr_correction')"
        ).fetchall()
    )
    assert claimed == {"baltr_returned": later, "baltr_correction": later}
    assert statuses(bad) == before, "both settlements stay as they were"
    assert statuses(bad)[first] == ("matched", None)
    assert posted(bad, first) == 1 and posted(bad, later) == 1
    assert findings(bad) == set()


def test_two_statement_accounts_in_one_currency_keep_one_row_per_settlement(
    clean_warehouse, corrupt
):
    con = duckdb.connect(str(clean_warehouse), read_only=True)
    settlements = one(
        con, "select count(*) from staging.stg_mollie__settlements where settlement_id like 'stl_%'"
    )[0]
    before = statuses(con)
    first, last = one(
        con,
        "select min(booking_date), max(booking_date) from bank.statement_lines "
        "where currency = 'EUR'",
    )
    con.close()
    other = (
        "insert into bank.statement_lines (source_file, statement_id, line_no, account_iban, "
        "entry_reference, booking_date, value_date, amount, currency, description) values "
        "('camt053_second.xml', 'SECOND-1', {n}, 'NL44RABO0123456789', 'second-{n}', "
        "'{day}', '{day}', -12.50, 'EUR', 'Kosten tweede rekening')"
    )
    bad = corrupt(
        # the balance names no payout account, so every EUR statement account may hold its payout
        "update mollie.balances set transfer_destination_bank_account = null "
        "where currency = 'EUR'",
        other.format(n=1, day=first),
        other.format(n=2, day=last),
    )
    rows, distinct = one(
        bad,
        "select count(*), count(distinct settlement_id) from marts.settlement_reconciliation",
    )
    assert rows == distinct == settlements
    assert statuses(bad) == before
    assert findings(bad) == set()


def test_periods_within_mollies_rounding_match_and_beyond_it_hold(clean_warehouse, corrupt):
    con = duckdb.connect(str(clean_warehouse), read_only=True)
    stl, _, _ = window_of(con, 3)
    year, month, line, count = one(
        con,
        "select year, month, line_no, count from staging.stg_mollie__settlement_periods "
        "where settlement_id = ? and kind = 'cost' and count >= 2 "
        "and (rate_fixed is not null or rate_percentage is not null) order by line_no limit 1",
        stl,
    )
    allowance, difference = one(
        con,
        "select periods_allowance, difference_periods from marts.settlement_reconciliation "
        "where settlement_id = ?",
        stl,
    )
    con.close()
    # The allowance: half a cent per transaction the priced cost lines count, plus half a cent.
    assert allowance >= Decimal("0.005") * count + Decimal("0.005")
    # Priced at 4 decimals, the cost lines may exceed the rounded deductions by up to the
    # allowance: Mollie's own arithmetic, no finding. Move this line so the settlement's
    # difference is the largest whole-cent amount within it.
    target = (allowance - Decimal("0.005")).quantize(Decimal("0.01"), rounding=ROUND_FLOOR)
    within = corrupt(
        f"update mollie.settlement_periods set amount_gross = amount_gross + {target - difference} "
        f"where settlement_id = '{stl}' and kind = 'cost' and line_no = {line} "
        f"and year = {year} and month = {month}"
    )
    assert (
        one(
            within,
            "select difference_periods from marts.settlement_reconciliation "
            "where settlement_id = ?",
            stl,
        )[0]
        == target
    )
    assert findings(within) == set() and findings(within, "warning") == set()
    assert statuses(within)[stl] == ("matched", None)
    within.close()  # the next corruption starts again from the clean warehouse, in the same file
    beyond = corrupt(
        f"update mollie.settlement_periods set amount_gross = amount_gross + {allowance + 1} "
        f"where settlement_id = '{stl}' and kind = 'cost' and line_no = {line} "
        f"and year = {year} and month = {month}"
    )
    assert findings(beyond) == {("settlement_periods_total", "settlement", stl)}
    assert statuses(beyond)[stl] == ("mismatch", "periods_total")
    assert posted(beyond, stl) == 0


def test_rounding_never_carries_more_than_its_tolerance(
    clean_warehouse, corrupt, tmp_path, monkeypatch
):
    con = duckdb.connect(str(clean_warehouse), read_only=True)
    stl, _, _ = window_of(con, 4)
    con.close()
    config = tmp_path / "ledger.toml"
    config.write_text(
        '[tolerances]\nsettlement_ledger_net = "0.05"\npayout_transfer_amount = "0.05"\n'
        'bank_deposit_amount = "0.05"\nrounding = "0.01"\n'
    )
    monkeypatch.setenv("MOLLIE_LEDGER_CONFIG", str(config))
    # Mollie pays three cents more than the rows it swept: within the settlement tolerances, but
    # the difference would land on Rounding, which may carry one cent.
    bad = corrupt(
        f"update mollie.settlements set amount = amount + 0.03 where id = '{stl}'",
        "update mollie.balance_transactions set result_amount = result_amount - 0.03, "
        f"initial_amount = initial_amount - 0.03 where type = 'outgoing-transfer' "
        f"and settlement_id = '{stl}'",
    )
    assert ("rounding", "settlement", stl) in findings(bad)
    assert statuses(bad)[stl] == ("mismatch", "rounding")
    assert posted(bad, stl) == 0
