-- grain: one row per settlement (stl_…): a payout of a balance to the merchant's bank.
select
    id as settlement_id,
    reference,
    balance_id,
    status,
    amount,
    amount_currency as currency,
    created_at,
    settled_at,
    (settled_at at time zone 'Europe/Amsterdam')::date as settled_date,
    invoice_id
from mollie.settlements
qualify row_number() over (partition by id order by _dlt_load_id desc) = 1
