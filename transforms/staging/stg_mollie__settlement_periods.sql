-- grain: one row per revenue or cost line of a settlement period (settlement × year × month ×
-- kind × line). Amounts carry Mollie's 4 decimals.
select
    settlement_id,
    year,
    month,
    make_date(year::integer, month::integer, 1) as period_month,
    kind,
    line_no,
    method,
    description,
    count,
    amount_net,
    amount_vat,
    amount_gross,
    rate_fixed,
    rate_percentage,
    currency,
    invoice_id,
    invoice_reference
from mollie.settlement_periods
qualify row_number() over (
    partition by settlement_id, year, month, kind, line_no order by _dlt_load_id desc
) = 1
