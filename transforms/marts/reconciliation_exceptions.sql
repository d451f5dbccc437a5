-- grain: one row per reconciliation finding: a reconciliation identity (docs/design.md) that failed on one object.
-- Each check compares two independently sourced numbers; a violation beyond the check's
-- tolerance (config.tolerances) is severity 'error', a non-zero difference within it 'warning'.
-- Checks:
--   ledger_row_arithmetic       1  resultAmount = initialAmount + deductions, per ledger row
--   deduction_details           1  where Mollie splits the deductions (deductionDetails): fees +
--                                  reservations + repayments + commissions = deductions
--   unknown_transaction_type    1  a ledger row whose type the type map does not know (expected
--                                  NULL, actual its gross): always an error; its settlement is held
--   payout_transfer_amount      2  the outgoing-transfer of a settlement moves exactly −amount
--   settlement_ledger_net       3  settlement amount = Σ net of the ledger rows it swept
--   settlement_periods_total    4  round(Σ revenue gross − Σ cost gross, 2) = amount, beyond
--                                  Mollie's rounding allowance (settlement_reconciliation
--                                  .periods_allowance, added to the configured tolerance)
--   settlement_membership       5  a settled paid payment is listed in its settlement and has one
--                                  ledger row; no ledger row or payment is in two settlements
--   balance_report_arithmetic   6  per report: open + movements = close (pending and available)
--   balance_report_vs_ledger    6  per report day: the report's movements = Σ ledger rows of the day
--   fee_invoice                 7  Σ fee deductions of the month − its compensation = invoice gross
--   bank_deposit_missing/_late/_amount, bank_deposit_unmatched   8  payouts vs bank deposits
--                                  (a deposit of a custom-amount transfer is matched to it by
--                                  intermediate.int_bank__transfer_matches, not unmatched)
--   rounding                    what a settlement's entry would carry on Rounding (its
--                               difference_ledger, when within the settlement_ledger_net
--                               tolerance) against the configured rounding tolerance
--   clearing_balance            per balance and day: the clearing account in the journal = Mollie's
--                               balance (pending + available), marts.clearing_reconciliation
with tol as (
    select check_name, tolerance from config.tolerances
),

ledger as (
    select * from intermediate.int_ledger__categorised
),

settlements as (
    select * from marts.settlement_reconciliation
),

check_1 as (
    select
        'ledger_row_arithmetic' as check_name, 'balance_transaction' as object_type,
        transaction_id as object_id, currency,
        initial_amount + deductions as expected, result_amount as actual
    from ledger
    union all
    select
        'deduction_details', 'balance_transaction', transaction_id, currency, deductions,
        fee_deduction + reservation_deduction + repayment_deduction + commission_deduction
    from ledger
    union all
    select
        'unknown_transaction_type', 'balance_transaction', transaction_id, currency,
        null::decimal(18, 2), gross
    from ledger
    where not type_known
),

check_2 as (
    select
        'payout_transfer_amount', 'settlement', settlement_id, currency,
        amount, payout_amount
    from settlements
    where status <> 'open'
),

check_3 as (
    select 'settlement_ledger_net', 'settlement', settlement_id, currency, amount, ledger_net
    from settlements
    where status <> 'open'
),

check_4 as (
    select 'settlement_periods_total', 'settlement', settlement_id, currency, amount, periods_total
    from settlements
    where status <> 'open' and periods_total is not null
        and abs(difference_periods) > periods_allowance
),

check_rounding as (
    select 'rounding', 'settlement', settlement_id, currency, 0::decimal(18, 2), difference_ledger
    from settlements, tol
    -- beyond the ledger_net tolerance the settlement is held anyway and nothing reaches Rounding
    where status <> 'open' and tol.check_name = 'settlement_ledger_net'
        and abs(difference_ledger) <= tol.tolerance
),

paid_settled_payments as (
    select p.payment_id, p.settlement_id, p.currency, p.amount
    from staging.stg_mollie__payments as p
    where p.status = 'paid' and p.settlement_id is not null
        and p.settlement_id in (select settlement_id from staging.stg_mollie__settlements)
),

check_5 as (
    -- listed in its own settlement's payments, exactly once
    select
        'settlement_membership', 'payment', p.payment_id, p.currency,
        1::decimal(18, 2), count(sp.payment_id)::decimal(18, 2)
    from paid_settled_payments as p
    left join staging.stg_mollie__settlement_payments as sp
        on sp.payment_id = p.payment_id and sp.settlement_id = p.settlement_id
    group by all
    union all
    -- one ledger row per settled payment
    select
        'settlement_membership', 'payment', p.payment_id, p.currency,
        1::decimal(18, 2), count(l.transaction_id)::decimal(18, 2)
    from paid_settled_payments as p
    left join ledger as l on l.payment_id = p.payment_id and l.category = 'payment'
    group by all
    union all
    -- a payment listed by more than one settlement
    select
        'settlement_membership', 'payment', payment_id, any_value(currency),
        1::decimal(18, 2), count(distinct settlement_id)::decimal(18, 2)
    from staging.stg_mollie__settlement_payments
    group by payment_id
    union all
    -- a ledger row swept by more than one settlement
    select
        'settlement_membership', 'balance_transaction', w.transaction_id, any_value(l.currency),
        1::decimal(18, 2), count(*)::decimal(18, 2)
    from intermediate.int_settlement__swept_rows as w
    join ledger as l using (transaction_id)
    group by w.transaction_id
),

check_6a as (
    select
        'balance_report_arithmetic', 'balance_report', report_id, currency,
        expected_close, actual_close
    from (
        select report_id, currency, 'pending' as side,
               open_pending + pending - moved_to_available as expected_close,
               close_pending as actual_close
        from marts.balance_reconciliation
        union all
        select report_id, currency, 'available',
               open_available + moved_from_pending + immediately_available, close_available
        from marts.balance_reconciliation
    )
),

check_6b as (
    select
        'balance_report_vs_ledger', 'balance_report', report_id, currency,
        report_movements, ledger_movements
    from marts.balance_reconciliation
),

check_7 as (
    select
        'fee_invoice', 'invoice', invoice_id, currency, invoice_gross, ledger_fees_net_of_compensation
    from marts.fee_invoice_reconciliation
),

bank as (
    select * from intermediate.int_bank__payout_matches
),

check_8 as (
    select 'bank_deposit_missing', 'settlement', settlement_id, currency, amount, null::decimal(18, 2)
    from bank
    where deposit_expected and matched_by is null
    union all
    select 'bank_deposit_amount', 'settlement', settlement_id, currency, amount, deposit_amount
    from bank
    where matched_by is not null
    union all
    select
        'bank_deposit_late', 'settlement', settlement_id, currency,
        0::decimal(18, 2), business_days_apart::decimal(18, 2)
    from bank, config.settings as cs
    where matched_by = 'reference' and business_days_apart > cs.match_window_business_days
    union all
    select
        'bank_deposit_unmatched', 'bank_statement_line', d.source_file || ':' || d.line_no,
        d.currency, null::decimal(18, 2), d.amount
    from staging.stg_bank__statement_lines as d
    where d.amount > 0 and d.is_mollie_payout
        and not exists (
            select 1 from bank as b
            where b.deposit_file = d.source_file and b.deposit_line = d.line_no
        )
        and not exists (
            select 1 from intermediate.int_bank__transfer_matches as t
            where t.deposit_file = d.source_file and t.deposit_line = d.line_no
        )
),

check_clearing as (
    -- a day the journal's clearing account is off Mollie's balance by more than held entries
    select
        'clearing_balance', 'balance_day', balance_id || '/' || strftime(report_date, '%Y-%m-%d'),
        currency, mollie_close, journal_close
    from marts.clearing_reconciliation
    where status = 'off'
),

all_checks as (
    select * from check_1
    union all select * from check_2
    union all select * from check_3
    union all select * from check_4
    union all select * from check_5
    union all select * from check_6a
    union all select * from check_6b
    union all select * from check_7
    union all select * from check_8
    union all select * from check_rounding
    union all select * from check_clearing
),

compared as (
    select
        c.*,
        coalesce(c.actual, 0) - coalesce(c.expected, 0) as difference,
        coalesce(t.tolerance, 0) + coalesce(s.periods_allowance, 0) as tolerance,
        c.expected is null or c.actual is null as one_side_missing
    from all_checks as c
    left join tol as t
        on t.check_name = case
            when c.check_name like 'bank_deposit_%' then 'bank_deposit_amount'
            else c.check_name
        end
    left join settlements as s
        on c.check_name = 'settlement_periods_total' and s.settlement_id = c.object_id
)

select
    check_name,
    object_type,
    object_id,
    currency,
    expected,
    actual,
    difference,
    case
        when check_name in ('bank_deposit_late') then 'warning'
        when one_side_missing or abs(difference) > tolerance then 'error'
        else 'warning'
    end as severity,
    current_timestamp as detected_at
from compared
where one_side_missing or difference <> 0
