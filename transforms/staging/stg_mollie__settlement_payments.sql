-- grain: one row per payment listed in a settlement (settlement × payment id).
select
    settlement_id,
    id as payment_id,
    status, method, profile_id, customer_id, paid_at,
    amount,
    amount_currency as currency,
    settlement_amount,
    settlement_amount_currency as settlement_currency,
    created_at
from mollie.settlement_payments
qualify row_number() over (partition by settlement_id, id order by _dlt_load_id desc) = 1
