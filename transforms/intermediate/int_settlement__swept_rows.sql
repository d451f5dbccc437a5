-- grain: one row per (settlement, balance transaction) that the settlement swept.
-- Which ledger rows a payout swept, derived from data independent of the settlement's amount:
--   * rows tied to an object the settlement lists: payment/capture rows of its payments,
--     refund rows of its refunds, chargeback rows of its chargebacks;
--   * rows tied to no listed object (chargeback reversals, invoice compensation, fees, other),
--     created in the settlement's window: after the previous settlement of the same balance,
--     up to and including its own payout moment.
-- A row claimed by two settlements appears twice here; reconciliation_exceptions reports it.
with settlements as (
    select
        settlement_id,
        balance_id,
        coalesce(settled_at, created_at) as paid_at,
        lag(coalesce(settled_at, created_at)) over (
            partition by balance_id order by coalesce(settled_at, created_at), settlement_id
        ) as previous_paid_at
    from staging.stg_mollie__settlements
    where status <> 'open' and settlement_id like 'stl_%'
),

ledger as (
    select * from intermediate.int_ledger__categorised
),

by_object as (
    select sp.settlement_id, l.transaction_id, 'payment' as link
    from staging.stg_mollie__settlement_payments as sp
    join ledger as l on l.payment_id = sp.payment_id and l.category = 'payment'
    union all
    select sr.settlement_id, l.transaction_id, 'refund'
    from staging.stg_mollie__settlement_refunds as sr
    join ledger as l on l.refund_id = sr.refund_id and l.category = 'refund'
    union all
    select sc.settlement_id, l.transaction_id, 'chargeback'
    from staging.stg_mollie__settlement_chargebacks as sc
    join ledger as l on l.chargeback_id = sc.chargeback_id and l.category = 'chargeback'
),

by_window as (
    select s.settlement_id, l.transaction_id, 'window' as link
    from settlements as s
    join ledger as l
        on l.balance_id = s.balance_id
        and l.created_at <= s.paid_at
        and (s.previous_paid_at is null or l.created_at > s.previous_paid_at)
    where l.category in ('chargeback_reversal', 'compensation', 'fee', 'other', 'payout_reversal')
)

select settlement_id, transaction_id, link from by_object
union all
select settlement_id, transaction_id, link from by_window
