-- grain: one row per settlement (stl_…).
-- Ties each settlement out three independent ways (reconciliation identities, docs/design.md):
--   ledger_net        Σ net of the ledger rows it swept          (identity 3)
--   periods_total     round(Σ revenue gross − Σ cost gross, 2)   (identity 4)
--   payout_amount     −(its outgoing-transfer row)                (identity 2)
-- and shows the bank deposit it matched (identity 8). Status:
--   open              not paid out yet (status open/pending) — nothing to tie out finally
--   mismatch          a difference beyond its check's tolerance, a missing payout row, or a
--                     membership finding on one of its rows
--   within_tolerance  differences all within tolerance, at least one not zero
--   matched           every difference exactly zero
with tol as (
    select
        max(tolerance) filter (where check_name = 'settlement_ledger_net') as ledger_net,
        max(tolerance) filter (where check_name = 'settlement_periods_total') as periods_total,
        max(tolerance) filter (where check_name = 'payout_transfer_amount') as payout
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
        sum(l.gross) filter (where l.category in ('compensation', 'fee', 'other', 'payout_reversal'))
            as other_gross,
        sum(l.fee) as fees,
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
        ) as periods_total
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
        coalesce(w.ledger_net, 0) as ledger_net,
        coalesce(w.rows_swept, 0) as rows_swept,
        s.amount - coalesce(w.ledger_net, 0) as difference_ledger,
        p.periods_total,
        s.amount - p.periods_total as difference_periods,
        po.payout_amount,
        s.amount - po.payout_amount as difference_payout,
        m.settlement_id is not null as has_membership_finding,
        b.matched_by as bank_matched_by,
        b.deposit_date as bank_deposit_date,
        b.deposit_amount as bank_deposit_amount,
        b.deposit_expected as bank_deposit_expected
    from staging.stg_mollie__settlements as s
    left join swept as w using (settlement_id)
    left join periods as p using (settlement_id)
    left join payouts as po using (settlement_id)
    left join membership as m using (settlement_id)
    left join intermediate.int_bank__payout_matches as b using (settlement_id)
    where s.settlement_id like 'stl_%'
)

select
    j.*,
    case
        when j.settlement_status in ('open', 'pending', 'processing-at-bank')
            and j.payout_amount is null then 'open'
        when j.payout_amount is null
            or j.has_membership_finding
            or abs(j.difference_ledger) > tol.ledger_net
            or abs(coalesce(j.difference_periods, 0)) > tol.periods_total
            or abs(j.difference_payout) > tol.payout then 'mismatch'
        when j.settlement_status <> 'paidout' then 'open'
        when j.difference_ledger <> 0 or coalesce(j.difference_periods, 0) <> 0
            or j.difference_payout <> 0 then 'within_tolerance'
        else 'matched'
    end as status
from joined as j, tol
