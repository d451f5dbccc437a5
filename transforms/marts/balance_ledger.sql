-- grain: one row per balance transaction (baltr_…): the Mollie ledger, categorised, with the ids
-- from its context, its account role from the type map (category NULL: a type the map does not
-- know, a finding in reconciliation_exceptions), gross / fee / the other deductions / net, and
-- the settlement that swept it (or, for a payout row, the settlement it paid out). fee is the
-- fee deduction only (deductionDetails.fees); reservations, repayments and commissions withheld
-- are their own columns, so gross + fee + reservation + repayment + commission = net.
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
    l.account_role,
    l.created_at,
    l.created_date,
    l.gross,
    l.fee_deduction as fee,
    l.reservation_deduction as reservation,
    l.repayment_deduction as repayment,
    l.commission_deduction as commission,
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
