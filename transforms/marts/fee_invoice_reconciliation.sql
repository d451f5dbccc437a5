-- grain: one row per Mollie fee invoice (month × currency).
-- Mollie deducts fees VAT-inclusive in real time, rounded per transaction; its monthly invoice
-- charges VAT on the month's net total; the rounding difference comes back as
-- invoice-compensation (and invoice-rounding-compensation) ledger rows pointing at the invoice.
-- What Mollie invoices is what it withheld as fees: deductionDetails.fees on every row, whatever
-- its type (a fee row such as payment-fee, failed-payment-fee or balance-charge-fee moves nothing
-- but its fee, carried there with initialAmount 0), never the reservations, repayments or
-- commissions withheld. So, per invoice month (Amsterdam):
--   ledger_fees − Σ its compensation rows = invoice gross, ledger_fees = −Σ fee deductions.
-- The gross of a fee-category row (a returned managed fee) is booked to fees but is not on the
-- invoice.
with invoices as (
    select
        i.invoice_id,
        i.reference,
        i.status,
        i.issued_date,
        i.due_date,
        i.currency,
        i.net_amount,
        i.vat_amount,
        i.gross_amount,
        min(l.period_month) as period_month
    from staging.stg_mollie__invoices as i
    left join staging.stg_mollie__invoice_lines as l using (invoice_id)
    group by all
),

monthly_fees as (
    select
        currency,
        date_trunc('month', created_date)::date as month,
        -sum(fee_deduction) as fees
    from intermediate.int_ledger__categorised
    group by all
),

compensation as (
    select invoice_id, sum(net) as compensation
    from intermediate.int_ledger__categorised
    where category = 'compensation' and invoice_id is not null
    group by all
)

select
    i.invoice_id,
    i.reference,
    i.status,
    i.period_month,
    i.issued_date,
    i.due_date,
    i.currency,
    i.net_amount as invoice_net,
    i.vat_amount as invoice_vat,
    i.gross_amount as invoice_gross,
    coalesce(f.fees, 0) as ledger_fees,
    coalesce(c.compensation, 0) as compensation,
    coalesce(f.fees, 0) - coalesce(c.compensation, 0) as ledger_fees_net_of_compensation,
    coalesce(f.fees, 0) - coalesce(c.compensation, 0) - i.gross_amount as difference
from invoices as i
left join monthly_fees as f on f.currency = i.currency and f.month = i.period_month
left join compensation as c using (invoice_id)
