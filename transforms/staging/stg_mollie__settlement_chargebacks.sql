-- grain: one row per chargeback listed in a settlement (settlement × chargeback id).
select
    settlement_id,
    id as chargeback_id,
    payment_id, reversed_at, reason_code,
    amount,
    amount_currency as currency,
    settlement_amount,
    settlement_amount_currency as settlement_currency,
    created_at
from mollie.settlement_chargebacks
qualify row_number() over (partition by settlement_id, id order by _dlt_load_id desc) = 1
