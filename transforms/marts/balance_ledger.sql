-- grain: one row per balance transaction (baltr_…): the Mollie ledger, categorised, with the ids
-- from its context, gross / fee / net, and the settlement that swept it (or, for a payout row,
-- the settlement it paid out).
with swept as (
    select transaction_id, min(settlement_id) as settlement_id, count(*) as times_claimed
    from intermediate.int_settlement__swept_rows
    group by transaction_id
)

select
    l.transaction_id,
    l.balance_id,
    l.currency,
    l.type,
    l.category,
    l.created_at,
    l.created_date,
    l.gross,
    l.fee,
    l.net,
    l.payment_id,
    l.refund_id,
    l.chargeback_id,
    l.capture_id,
    l.transfer_id,
    l.invoice_id,
    case when l.category = 'payout' then l.settlement_id else s.settlement_id end as settlement_id,
    coalesce(s.times_claimed, 0) as times_claimed
from intermediate.int_ledger__categorised as l
left join swept as s using (transaction_id)
