-- grain: one row per export-ready journal entry (posting key).
-- The entries marts.journal_entry_status holds ready (its header: voucher type, posting date,
-- cheque number and date, remark) with their totals from marts.journal_entry_lines. Day entries
-- and fee-VAT entries are "Journal Entry" vouchers; payout and payout-return entries are "Bank
-- Entry" vouchers whose cheque_no is the settlement's bank reference, so ERPNext's Bank
-- Reconciliation Tool matches the bank line. The posting key is unique and stable: the exporter
-- stores it in ERPNext's `mollie_posting_key` field so nothing posts twice.
with totals as (
    select posting_key, any_value(currency) as currency, sum(debit) as total_debit,
           sum(credit) as total_credit, count(*) as line_count
    from marts.journal_entry_lines
    group by posting_key
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
join marts.journal_entry_status as s using (posting_key)
cross join config.settings as cfg
where s.hold_reason is null
