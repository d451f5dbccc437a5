-- grain: one row per export-ready journal entry (posting key).
-- Settlement entries are ERPNext "Bank Entry" vouchers: cheque_no = the settlement's bank
-- reference, cheque_date = posting date = the settled date (Amsterdam), so the Bank
-- Reconciliation Tool matches the bank line. Fee VAT entries are plain "Journal Entry" vouchers
-- dated on the invoice's issue date with the invoice reference. The posting key is unique and
-- stable: the exporter stores it in ERPNext's `mollie_posting_key` field so nothing posts twice.
with totals as (
    select posting_key, any_value(currency) as currency, sum(debit) as total_debit,
           sum(credit) as total_credit, count(*) as line_count
    from marts.journal_entry_lines
    group by posting_key
),

sources as (
    select
        'mollie-settlement-' || settlement_id as posting_key,
        'settlement' as entry_type,
        settlement_id as source_id,
        'Bank Entry' as voucher_type,
        settled_date as posting_date,
        reference as cheque_no,
        settled_date as cheque_date,
        'Mollie payout ' || reference || ' (' || settlement_id || ')' as user_remark
    from marts.settlement_reconciliation
    union all
    select
        'mollie-fee-vat-' || invoice_id,
        'fee_vat',
        invoice_id,
        'Journal Entry',
        issued_date,
        reference,
        issued_date,
        'VAT on Mollie fees, invoice ' || reference || ' (' || period_month || ')'
    from marts.fee_invoice_reconciliation
)

select
    t.posting_key,
    s.entry_type,
    s.source_id,
    s.voucher_type,
    s.posting_date,
    s.cheque_no,
    s.cheque_date,
    cfg.company,
    t.currency,
    t.total_debit,
    t.total_credit,
    t.total_debit = t.total_credit as is_balanced,
    t.line_count,
    s.user_remark
from totals as t
join sources as s using (posting_key)
cross join config.settings as cfg
