-- grain: one row per month (Amsterdam), currency and method: what Mollie charged, from the ledger.
-- group: revenue
-- method is the payment method for payment and capture rows, 'refund' / 'chargeback' for those
-- fees; fees are VAT-inclusive (as deducted); effective_rate = fees / gross payment volume.
with ledger as (
    select
        l.*,
        case l.category
            when 'payment' then coalesce(p.method, 'unknown')
            when 'refund' then 'refund'
            when 'chargeback' then 'chargeback'
            else l.category
        end as method
    from intermediate.int_ledger__categorised as l
    left join staging.stg_mollie__payments as p using (payment_id)
)

select
    date_trunc('month', created_date)::date as month,
    currency,
    method,
    count(*) filter (where fee <> 0) as charged_transactions,
    sum(gross) filter (where category = 'payment') as payment_volume,
    -sum(fee) as fees,
    case
        when sum(gross) filter (where category = 'payment') > 0
            then round(-sum(fee) / sum(gross) filter (where category = 'payment'), 6)
    end as effective_rate
from ledger
where category <> 'payout'
group by all
having sum(fee) <> 0 or sum(gross) filter (where category = 'payment') is not null
