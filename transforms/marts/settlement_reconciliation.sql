-- grain: one row per settlement (stl_…).
-- Ties each settlement out three independent ways:
--   ledger_net        Σ net of the ledger rows it swept          (identity 3)
--   periods_total     round(Σ revenue gross − Σ cost gross, 2)   (identity 4)
--   payout_amount     −(its outgoing-transfer row)                (identity 2)
-- and shows the bank deposit it matched (identity 8).
-- periods_allowance: Mollie prices a cost line at 4 decimals (rate × count) while it rounds each
-- transaction's deduction to the cent, so the period lines and the ledger may differ by up to
-- half a cent per transaction a priced cost line counts, plus half a cent for rounding the total
-- to 2 decimals: 0.005 × Σ count of the cost lines with a rate + 0.005. Lines without a rate
-- (rolling reserve, Capital repayments, commissions, compensation) are booked amounts, exact to
-- the cent, and add nothing. A difference within it is Mollie's own arithmetic, not a
-- difference; the configured settlement_periods_total tolerance is added on top of it.
-- hold_reason: why the settlement may not be posted, NULL when nothing holds it; several reasons
-- are joined with ', ' in this order:
--   missing_payout_row        paid out, but no outgoing-transfer row for it in the ledger
--   unknown_transaction_type  it swept a row whose type the type map does not know
--   settlement_membership     one of its rows is also claimed by another settlement
--   ledger_net                amount ≠ Σ net swept beyond tolerance
--   periods_total             amount ≠ period lines beyond allowance + tolerance
--   payout_transfer_amount    amount ≠ its outgoing transfer beyond tolerance
--   bank_deposit_amount       the bank deposit it matched differs from its amount beyond tolerance
--   rounding                  within the ledger_net tolerance, but what an entry would send to
--                             Rounding (difference_ledger) is more than the rounding tolerance
-- The journal reads hold_reason (and status): a settlement with a hold_reason is not posted; its
-- rows and the finding wait in review.
-- Status:
--   open              not paid out yet (status open/pending) — nothing to tie out finally
--   mismatch          hold_reason is set
--   within_tolerance  nothing holds it, at least one difference not zero (periods: beyond the
--                     allowance)
--   matched           every difference zero (periods: within Mollie's rounding allowance)
with tol as (
    select
        max(tolerance) filter (where check_name = 'settlement_ledger_net') as ledger_net,
        max(tolerance) filter (where check_name = 'settlement_periods_total') as periods_total,
        max(tolerance) filter (where check_name = 'payout_transfer_amount') as payout,
        max(tolerance) filter (where check_name = 'bank_deposit_amount') as bank,
        max(tolerance) filter (where check_name = 'rounding') as rounding
    from config.tolerances
),

swept as (
    select
        w.settlement_id,
        sum(l.gross) filter (where l.category = 'payment') as payments_gross,
        count(*) filter (where l.category = 'payment') as payments_count,
        sum(l.gross) filter (where l.category = 'refund') as refunds_gross,
        sum(l.gross) filter (where l.category = 'chargeback') as chargebacks_gross,
        sum(l.gross) filter (where l.category = 'chargeback_reversal') as reversals_gross,
        sum(l.gross) filter (
            where l.category is null or l.category not in (
                'payment', 'refund', 'chargeback', 'chargeback_reversal'
            )
        ) as other_gross,
        sum(l.fee_deduction) as fees,
        sum(l.reservation_deduction) as reservations,
        sum(l.repayment_deduction) as repayments,
        sum(l.commission_deduction) as commissions,
        count(*) filter (where l.category is null) as unknown_type_rows,
        sum(l.net) as ledger_net,
        count(*) as rows_swept
    from intermediate.int_settlement__swept_rows as w
    join intermediate.int_ledger__categorised as l using (transaction_id)
    group by w.settlement_id
),

periods as (
    select
        settlement_id,
        round(
            sum(amount_gross) filter (where kind = 'revenue')
            - coalesce(sum(amount_gross) filter (where kind = 'cost'), 0),
            2
        ) as periods_total,
        0.005 * coalesce(sum(count) filter (
            where kind = 'cost' and (rate_fixed is not null or rate_percentage is not null)
        ), 0) + 0.005 as periods_allowance
    from staging.stg_mollie__settlement_periods
    group by settlement_id
),

payouts as (
    select settlement_id, -sum(net) as payout_amount, count(*) as payout_rows
    from intermediate.int_ledger__categorised
    where category = 'payout' and settlement_id is not null
    group by settlement_id
),

membership as (
    select distinct settlement_id
    from intermediate.int_settlement__swept_rows
    where transaction_id in (
        select transaction_id from intermediate.int_settlement__swept_rows
        group by transaction_id having count(*) > 1
    )
),

joined as (
    select
        s.settlement_id,
        s.reference,
        s.balance_id,
        s.currency,
        s.status as settlement_status,
        s.created_at,
        s.settled_at,
        s.settled_date,
        s.amount,
        coalesce(w.payments_gross, 0) as payments_gross,
        coalesce(w.payments_count, 0) as payments_count,
        coalesce(w.refunds_gross, 0) as refunds_gross,
        coalesce(w.chargebacks_gross, 0) as chargebacks_gross,
        coalesce(w.reversals_gross, 0) as reversals_gross,
        coalesce(w.other_gross, 0) as other_gross,
        coalesce(w.fees, 0) as fees,
        coalesce(w.reservations, 0) as reservations,
        coalesce(w.repayments, 0) as repayments,
        coalesce(w.commissions, 0) as commissions,
        coalesce(w.unknown_type_rows, 0) as unknown_type_rows,
        coalesce(w.ledger_net, 0) as ledger_net,
        coalesce(w.rows_swept, 0) as rows_swept,
        s.amount - coalesce(w.ledger_net, 0) as difference_ledger,
        p.periods_total,
        s.amount - p.periods_total as difference_periods,
        p.periods_allowance::decimal(18, 4) as periods_allowance,
        po.payout_amount,
        s.amount - po.payout_amount as difference_payout,
        m.settlement_id is not null as has_membership_finding,
        b.matched_by as bank_matched_by,
        b.deposit_date as bank_deposit_date,
        b.deposit_amount as bank_deposit_amount,
        b.deposit_expected as bank_deposit_expected,
        b.deposit_amount - s.amount as difference_bank
    from staging.stg_mollie__settlements as s
    left join swept as w using (settlement_id)
    left join periods as p using (settlement_id)
    left join payouts as po using (settlement_id)
    left join membership as m using (settlement_id)
    left join intermediate.int_bank__payout_matches as b using (settlement_id)
    where s.settlement_id like 'stl_%'
),

held as (
    select
        j.*,
        nullif(concat_ws(', ',
            case when j.payout_amount is null and j.settlement_status not in
                ('open', 'pending', 'processing-at-bank') then 'missing_payout_row' end,
            case when j.unknown_type_rows > 0 then 'unknown_transaction_type' end,
            case when j.has_membership_finding then 'settlement_membership' end,
            case when abs(j.difference_ledger) > tol.ledger_net then 'ledger_net' end,
            case when abs(coalesce(j.difference_periods, 0))
                > j.periods_allowance + tol.periods_total then 'periods_total' end,
            case when abs(j.difference_payout) > tol.payout then 'payout_transfer_amount' end,
            case when abs(coalesce(j.difference_bank, 0)) > tol.bank then 'bank_deposit_amount' end,
            case when abs(j.difference_ledger) > tol.rounding
                and abs(j.difference_ledger) <= tol.ledger_net then 'rounding' end
        ), '') as hold_reason,
        abs(coalesce(j.difference_periods, 0)) > coalesce(j.periods_allowance, 0)
            as periods_beyond_allowance
    from joined as j, tol
)

select
    h.* exclude (hold_reason, periods_beyond_allowance),
    h.hold_reason,
    case
        when h.settlement_status in ('open', 'pending', 'processing-at-bank')
            and h.payout_amount is null then 'open'
        when h.hold_reason is not null then 'mismatch'
        when h.settlement_status <> 'paidout' then 'open'
        when h.difference_ledger <> 0 or h.periods_beyond_allowance
            or h.difference_payout <> 0 or coalesce(h.difference_bank, 0) <> 0
            then 'within_tolerance'
        else 'matched'
    end as status
from held as h
