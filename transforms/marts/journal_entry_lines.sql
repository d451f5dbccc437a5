-- grain: one row per line of an export-ready journal entry (posting key × line number).
-- The lines of every entry marts.journal_entry_status holds ready, one per account role, with the
-- amounts of intermediate.int_journal__ledger_lines (signed as debits there; here split into
-- debit and credit, both >= 0, one of them zero). Per role, the account: the balance's clearing
-- account for `clearing` ([books.clearing_accounts]), else [books.accounts]. Rounding is what an
-- entry needs to balance, never more than its tolerance (the status holds an entry otherwise),
-- so every entry balances exactly. Fee-VAT entries: input_vat debit, fees credit, the invoice's
-- VAT. Roles the seed account_roles marks profit_and_loss carry the configured cost centre;
-- roles with a party under [books.parties] carry it (ERPNext requires one on a Receivable or
-- Payable account). Zero lines are left out.
with cfg as (
    select * from config.settings
),

ready as (
    select posting_key, entry_type, currency, imbalance
    from marts.journal_entry_status
    where hold_reason is null
),

signed as (
    select l.posting_key, l.currency, l.role, l.amount
    from intermediate.int_journal__ledger_lines as l
    join ready as r using (posting_key)
    union all
    select posting_key, currency, 'rounding', -imbalance
    from ready
    where entry_type <> 'fee_vat' and imbalance <> 0
    union all
    select r.posting_key, f.currency, v.role, v.amount
    from ready as r
    join marts.fee_invoice_reconciliation as f on r.posting_key = 'mollie-fee-vat-' || f.invoice_id,
    lateral (values
        ('input_vat', round(f.invoice_vat, 2)),
        ('fees', -round(f.invoice_vat, 2))
    ) as v(role, amount)
),

by_role as (
    select posting_key, any_value(currency) as currency, role, sum(amount) as amount
    from signed
    group by posting_key, role
    having sum(amount) <> 0
)

select
    s.posting_key,
    row_number() over (
        partition by s.posting_key order by r.line_order::integer, s.role
    ) as line_no,
    s.role,
    case when s.role = 'clearing' then ca.account else a.account end as account,
    s.currency,
    greatest(s.amount, 0)::decimal(18, 2) as debit,
    greatest(-s.amount, 0)::decimal(18, 2) as credit,
    case when r.statement = 'profit_and_loss' then cfg.cost_center end as cost_center,
    p.party_type,
    p.party
from by_role as s
cross join cfg
left join seeds.account_roles as r using (role)
left join config.accounts as a using (role)
left join config.clearing_accounts as ca on ca.currency = s.currency
left join config.parties as p using (role)
