-- grain: one row per Mollie fee invoice to the merchant (inv_…).
select
    id as invoice_id,
    reference,
    status,
    issued_at as issued_date,
    paid_at as paid_date,
    due_at as due_date,
    net_amount,
    vat_amount,
    gross_amount,
    gross_amount_currency as currency,
    vat_number
from mollie.invoices
qualify row_number() over (partition by id order by _dlt_load_id desc) = 1
