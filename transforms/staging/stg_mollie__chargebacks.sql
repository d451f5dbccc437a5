-- grain: one row per chargeback (chb_…), its latest known state (reversed or not).
select
    id as chargeback_id,
    payment_id,
    settlement_id,
    amount,
    amount_currency as currency,
    settlement_amount,
    reason_code,
    reason_description,
    created_at,
    (created_at at time zone 'Europe/Amsterdam')::date as created_date,
    reversed_at,
    reversed_at is not null as is_reversed
from mollie.chargebacks
qualify row_number() over (partition by id order by _dlt_load_id desc) = 1
