-- grain: one row per line of an export-ready journal entry (posting key × line number).
-- Settlement entries (docs/accounting.md), for every paid-out settlement that reconciles (matched or
-- within_tolerance; a mismatch waits in review), one signed amount per role, credit > 0:
--   bank         −amount                      (the payout lands: debit)
--   receipts     Σ gross of payments           (credit)
--   refunds      Σ gross of refunds            (negative: debit)
--   chargebacks  Σ gross of chargebacks and reversals (net, usually a debit)
--   fees         Σ deductions                  (negative: debit, VAT-inclusive)
--   rounding     Σ gross of compensation and other rows + the difference within tolerance
-- These sum to zero by the ledger identity (amount = Σ net swept + difference), so every entry
-- balances exactly; amounts are 2-decimal already, rounded explicitly anyway.
-- Fee VAT entries, per reconciled Mollie fee invoice: the VAT part of the month's fees moves
-- from fees to input VAT (debit input_vat, credit fees).
-- Profit-and-loss roles carry the configured cost centre; zero lines are left out.
with cfg as (
    select * from config.settings
),

accounts as (
    select role, account from config.accounts
),

settlements as (
    select *
    from marts.settlement_reconciliation
    where settlement_status = 'paidout' and status in ('matched', 'within_tolerance')
),

settlement_amounts as (
    select settlement_id, currency, role, signed_credit
    from settlements,
    lateral (values
        (1, 'bank', -amount),
        (2, 'receipts', payments_gross),
        (3, 'refunds', refunds_gross),
        (4, 'chargebacks', chargebacks_gross + reversals_gross),
        (5, 'fees', fees),
        (6, 'rounding', other_gross + difference_ledger)
    ) as r(line_order, role, signed_credit)
),

fee_vat as (
    select f.invoice_id, f.currency, f.invoice_vat
    from marts.fee_invoice_reconciliation as f
    join config.tolerances as t on t.check_name = 'fee_invoice'
    where abs(f.difference) <= t.tolerance and f.invoice_vat <> 0
),

signed as (
    select 'mollie-settlement-' || settlement_id as posting_key, currency, role,
           round(signed_credit, 2) as signed_credit
    from settlement_amounts
    union all
    select 'mollie-fee-vat-' || invoice_id, currency, 'input_vat', -round(invoice_vat, 2)
    from fee_vat
    union all
    select 'mollie-fee-vat-' || invoice_id, currency, 'fees', round(invoice_vat, 2)
    from fee_vat
)

select
    s.posting_key,
    row_number() over (
        partition by s.posting_key
        order by case s.role when 'bank' then 1 when 'receipts' then 2 when 'refunds' then 3
            when 'chargebacks' then 4 when 'fees' then 5 when 'input_vat' then 6 else 7 end
    ) as line_no,
    s.role,
    a.account,
    s.currency,
    greatest(-s.signed_credit, 0)::decimal(18, 2) as debit,
    greatest(s.signed_credit, 0)::decimal(18, 2) as credit,
    case
        when s.role in ('receipts', 'refunds', 'chargebacks', 'fees', 'rounding')
            then cfg.cost_center
    end as cost_center
from signed as s
cross join cfg
left join accounts as a using (role)
where s.signed_credit <> 0
