-- grain: one row per month (Amsterdam), currency and method: what Mollie charged, from the ledger.
-- group: revenue
-- method is the payment method for payment and capture rows, 'refund' / 'chargeback' for those
-- fees, else the category ('fee' for fee rows such as payment-fee, 'compensation' for invoice
-- compensation, 'unknown_type' for a type the type map lacks); fees are VAT-inclusive: the fee
-- deductions plus the gross of fee and compensation rows; effective_rate = fees / gross payment
-- volume.
with ledger as (
    select
        l.*,
        case l.category
            when 'payment' then coalesce(p.method, 'unknown')
            when 'refund' then 'refund'
            when 'chargeback' then 'chargeback'
            else coalesce(l.category, 'unknown_type')
        end as method,
        l.fee_deduction
            + case when l.category in ('fee', 'compensation') then l.gross else 0 end as charged
    from intermediate.int_ledger__categorised as l
    left join staging.stg_mollie__payments as p using (payment_id)
)

select
    date_trunc('month', created_date)::date as month,
    currency,
    method,
    count(*) filter (where charged <> 0) as charged_transactions,
    sum(gross) filter (where category = 'payment') as payment_volume,
    -sum(charged) as fees,
    case
        when sum(gross) filter (where category = 'payment') > 0
            then round(-sum(charged) / sum(gross) filter (where category = 'payment'), 6)
    end as effective_rate
from ledger
where category is distinct from 'payout'
group by all
having sum(charged) <> 0 or sum(gross) filter (where category = 'payment') is not null
