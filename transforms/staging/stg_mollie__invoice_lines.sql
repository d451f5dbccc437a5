-- grain: one row per line of a Mollie fee invoice (invoice × line number).
select
    invoice_id,
    line_number,
    period,
    strptime(period || '-01', '%Y-%m-%d')::date as period_month,
    description,
    count,
    vat_percentage,
    amount,
    amount_currency as currency
from mollie.invoice_lines
qualify row_number() over (partition by invoice_id, line_number order by _dlt_load_id desc) = 1
