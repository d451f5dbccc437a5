-- grain: one row per capture listed in a settlement (settlement × capture id).
select
    settlement_id,
    id as capture_id,
    status, payment_id,
    amount,
    amount_currency as currency,
    settlement_amount,
    settlement_amount_currency as settlement_currency,
    created_at
from mollie.settlement_captures
qualify row_number() over (partition by settlement_id, id order by _dlt_load_id desc) = 1
