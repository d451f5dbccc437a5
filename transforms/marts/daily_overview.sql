-- grain: one row per Amsterdam day and currency, every day from the first ledger row to the last.
-- group: revenue
-- From the ledger (Fivetran's daily overview over Stripe balance transactions, Mollie's terms):
-- sales, refunds, chargebacks and reversals at gross; fees = what Mollie charged (negative): fee
-- deductions plus the gross of fee rows (payment-fee, …) and of invoice compensation; other = the
-- gross of every other category (failed payments, reserves, loans, commissions, split payments,
-- corrections, top-ups, bounced payouts, and unknown types) and the reservation, repayment and
-- commission deductions; net_activity = Σ net of everything but payouts; payouts =
-- money sent to the bank (positive); ending_balance = pending + available at the end of the day
-- (running Σ net of every row, payouts included).
with ledger as (
    select * from intermediate.int_ledger__categorised
),

spine as (
    select currency, unnest(generate_series(min(created_date), max(created_date), interval 1 day))::date as day
    from ledger
    group by currency
),

daily as (
    select
        currency,
        created_date as day,
        sum(gross) filter (where category = 'payment') as sales,
        count(*) filter (where category = 'payment') as sales_count,
        sum(gross) filter (where category = 'refund') as refunds,
        count(*) filter (where category = 'refund') as refunds_count,
        sum(gross) filter (where category = 'chargeback') as chargebacks,
        count(*) filter (where category = 'chargeback') as chargebacks_count,
        sum(gross) filter (where category = 'chargeback_reversal') as chargeback_reversals,
        sum(fee_deduction)
            + coalesce(sum(gross) filter (where category in ('fee', 'compensation')), 0) as fees,
        coalesce(sum(gross) filter (
            where category is null or category not in (
                'payment', 'refund', 'chargeback', 'chargeback_reversal', 'fee', 'compensation',
                'payout'
            )
        ), 0) + sum(reservation_deduction + repayment_deduction + commission_deduction) as other,
        sum(net) filter (where category is distinct from 'payout') as net_activity,
        -sum(net) filter (where category = 'payout') as payouts,
        count(*) filter (where category = 'payout') as payouts_count,
        sum(net) as balance_change
    from ledger
    group by all
)

select
    s.day,
    s.currency,
    coalesce(d.sales, 0) as sales,
    coalesce(d.sales_count, 0) as sales_count,
    coalesce(d.refunds, 0) as refunds,
    coalesce(d.refunds_count, 0) as refunds_count,
    coalesce(d.chargebacks, 0) as chargebacks,
    coalesce(d.chargebacks_count, 0) as chargebacks_count,
    coalesce(d.chargeback_reversals, 0) as chargeback_reversals,
    coalesce(d.fees, 0) as fees,
    coalesce(d.other, 0) as other,
    coalesce(d.net_activity, 0) as net_activity,
    coalesce(d.payouts, 0) as payouts,
    coalesce(d.payouts_count, 0) as payouts_count,
    sum(coalesce(d.balance_change, 0)) over (
        partition by s.currency order by s.day rows between unbounded preceding and current row
    ) as ending_balance
from spine as s
left join daily as d using (currency, day)
