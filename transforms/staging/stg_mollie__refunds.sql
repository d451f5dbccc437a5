-- grain: one row per refund (re_…), its latest known state.
select
    id as refund_id,
    payment_id,
    settlement_id,
    status,
    description,
    amount,
    amount_currency as currency,
    settlement_amount,
    created_at,
    (created_at at time zone 'Europe/Amsterdam')::date as created_date
from mollie.refunds
qualify row_number() over (partition by id order by _dlt_load_id desc) = 1
