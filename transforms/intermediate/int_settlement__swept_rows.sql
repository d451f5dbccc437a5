-- grain: one row per (settlement, balance transaction) that the settlement swept.
-- Which ledger rows a payout swept, derived from data independent of the settlement's amount:
--   * the original rows of an object the settlement lists (type map settlement_tie 'object'):
--     payment and capture rows of its payments, capture rows of its captures, refund rows of its
--     refunds, chargeback rows of its chargebacks;
--   * every other row (settlement_tie 'window', and a type the map does not know), created in the
--     settlement's window: after the previous settlement of the same balance, up to and
--     including its own payout moment. A row that arrives later (a returned refund weeks after
--     its refund, a chargeback reversal, a bounced payout) belongs to the settlement whose window
--     holds it, never to the one that listed the original, so a settlement already tied out
--     keeps its rows when later ones arrive.
--   * payout rows (settlement_tie 'payout') are the settlement's own transfer, not swept.
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
    join ledger as l
        on l.payment_id = sp.payment_id and l.settlement_tie = 'object'
        and l.context_object in ('payment', 'capture')
    union
    select sc.settlement_id, l.transaction_id, 'payment'
    from staging.stg_mollie__settlement_captures as sc
    join ledger as l
        on l.capture_id = sc.capture_id and l.settlement_tie = 'object'
        and l.context_object = 'capture'
    union
    select sr.settlement_id, l.transaction_id, 'refund'
    from staging.stg_mollie__settlement_refunds as sr
    join ledger as l
        on l.refund_id = sr.refund_id and l.settlement_tie = 'object'
        and l.context_object = 'refund'
    union
    select sc.settlement_id, l.transaction_id, 'chargeback'
    from staging.stg_mollie__settlement_chargebacks as sc
    join ledger as l
        on l.chargeback_id = sc.chargeback_id and l.settlement_tie = 'object'
        and l.context_object = 'chargeback'
),

by_window as (
    select s.settlement_id, l.transaction_id, 'window' as link
    from settlements as s
    join ledger as l
        on l.balance_id = s.balance_id
        and l.created_at <= s.paid_at
        and (s.previous_paid_at is null or l.created_at > s.previous_paid_at)
    where l.settlement_tie = 'window' or l.settlement_tie is null
)

select settlement_id, transaction_id, link from by_object
union all
select settlement_id, transaction_id, link from by_window
