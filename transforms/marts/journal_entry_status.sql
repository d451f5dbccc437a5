-- grain: one row per journal entry the books need (posting key): ready to post, or held with the
-- reason. marts.journal_entries / journal_entry_lines hold the ready ones; a held entry is never
-- posted in part, and waits in export.review until what holds it is resolved.
-- Entries (docs/accounting.md):
--   day            per balance and Amsterdam day: that day's activity against the clearing
--                  account ("Journal Entry")
--   payout         per settlement: the payout from clearing to Bank ("Bank Entry", cheque_no =
--                  the settlement's bank reference, cheque_date = its settled date), dated the day
--                  the transfer left Mollie's balance
--   payout_return  per returned or cancelled transfer: the payout back from Bank to clearing
--                  ("Bank Entry", cheque_no = the reference of the settlement it reverses)
--   fee_vat        per Mollie fee invoice, only when [books] vat_registered: the VAT part of the
--                  month's fees from fees to input VAT ("Journal Entry")
-- Held, with the reason, when: a row's type is unknown to the type map; a role has no account;
-- the balance's currency has no clearing account; the entry needs more rounding than the
-- [tolerances] rounding; a payout's settlement does not reconcile or is not settled
-- yet; a return reverses a payout that is held; a fee invoice differs from the month's fees; a
-- day entry's day is still running (it would change after posting).
with cfg as (
    select * from config.settings
),

tol as (
    select
        coalesce(max(tolerance) filter (where check_name = 'rounding'), 0) as rounding,
        coalesce(max(tolerance) filter (where check_name = 'fee_invoice'), 0) as fee_invoice
    from config.tolerances
),

unknown_types as (
    -- the same entry keys as int_journal__ledger_lines, for the rows whose type is unmapped
    select
        l.posting_key,
        string_agg(c.type || ' ' || c.transaction_id, ', ' order by c.transaction_id)
            as unknown_rows
    from intermediate.int_ledger__categorised as c
    join intermediate.int_journal__ledger_lines as l
        on l.role is null
        and l.balance_id = c.balance_id
        and l.posting_date = c.created_date
    where not c.type_known
    group by l.posting_key
),

ledger_entries as (
    select
        l.posting_key,
        any_value(l.entry_type) as entry_type,
        any_value(l.source_id) as source_id,
        any_value(l.balance_id) as balance_id,
        any_value(l.currency) as currency,
        any_value(l.posting_date) as posting_date,
        any_value(l.settlement_id) as settlement_id,
        any_value(l.transfer_id) as transfer_id,
        coalesce(sum(l.amount) filter (where l.role = 'clearing'), 0) as clearing_amount,
        sum(l.amount) as imbalance,
        string_agg(distinct l.role, ', ' order by l.role) filter (
            where l.role is not null and l.role <> 'clearing' and l.amount <> 0
                and l.role not in (select role from config.accounts)
        ) as roles_without_account
    from intermediate.int_journal__ledger_lines as l
    group by l.posting_key
),

settlements as (
    select
        settlement_id,
        reference,
        settled_date,
        status,
        status not in ('matched', 'within_tolerance', 'open') as is_held
    from marts.settlement_reconciliation
),

payouts as (
    select
        e.*,
        s.reference,
        s.settled_date,
        s.status as settlement_status,
        s.is_held as settlement_held
    from ledger_entries as e
    left join settlements as s using (settlement_id)
),

ledger_headed as (
    select
        p.posting_key,
        p.entry_type,
        p.source_id,
        p.balance_id,
        p.currency,
        p.posting_date,
        p.settlement_id,
        case when p.entry_type = 'day' then 'Journal Entry' else 'Bank Entry' end
            as voucher_type,
        -- a transfer outside any settlement (a custom-amount payout) is named by its transfer
        case when p.entry_type <> 'day' then coalesce(p.reference, p.settlement_id,
            p.transfer_id, p.source_id) end as cheque_no,
        case
            when p.entry_type = 'payout' and p.settlement_id is not null then p.settled_date
            when p.entry_type <> 'day' then p.posting_date
        end as cheque_date,
        case p.entry_type
            when 'day' then 'Mollie ' || p.currency || ' balance ' || p.balance_id
                || ': activity of ' || strftime(p.posting_date, '%Y-%m-%d')
            when 'payout' then 'Mollie payout ' || coalesce(p.reference, '?') || ' ('
                || coalesce(p.settlement_id, p.transfer_id, p.source_id) || ')'
            else 'Mollie payout ' || coalesce(p.reference, '?') || ' ('
                || coalesce(p.settlement_id, p.transfer_id, '?') || ') returned ('
                || p.source_id || ')'
        end as user_remark,
        p.clearing_amount,
        p.imbalance,
        concat_ws('; ',
            case when u.unknown_rows is not null then 'balance transaction of a type the type '
                || 'map does not know: ' || u.unknown_rows end,
            case when p.roles_without_account is not null then 'no account for role(s) '
                || p.roles_without_account || ': set them under [books.accounts]' end,
            case when ca.account is null then 'no clearing account for ' || p.currency
                || ': set it under [books.clearing_accounts]' end,
            case when abs(p.imbalance) > tol.rounding then 'needs ' || p.imbalance
                || ' of rounding, more than the rounding tolerance ' || tol.rounding end,
            case when p.entry_type = 'payout' and p.settlement_id is not null
                and p.reference is null then 'settlement ' || p.settlement_id
                || ' is not loaded' end,
            case when p.entry_type = 'payout' and p.settlement_held then 'settlement '
                || p.settlement_id || ' is in review (status ' || p.settlement_status
                || ', see marts.settlement_reconciliation)' end,
            case when p.entry_type = 'payout' and p.reference is not null
                and p.settled_date is null then 'settlement ' || p.settlement_id
                || ' is not settled yet (no settled date)' end,
            case when p.entry_type = 'payout_return' and p.settlement_id is null
                and p.transfer_id is null then 'the returned transfer names no settlement '
                || 'and no transfer' end,
            -- a day still running would be posted half and change after posting
            case when p.entry_type = 'day'
                and p.posting_date >= (now() at time zone 'Europe/Amsterdam')::date
                then 'the day is not over yet (Europe/Amsterdam)' end
        ) as reason
    from payouts as p
    cross join tol
    left join unknown_types as u using (posting_key)
    left join config.clearing_accounts as ca on ca.currency = p.currency
),

ledger_status as (
    -- a return waits while the payout it reverses waits
    select
        h.* exclude (reason),
        nullif(concat_ws('; ',
            nullif(h.reason, ''),
            case when h.entry_type = 'payout_return' and nullif(o.reason, '') is not null
                then 'the payout it reverses is held (' || o.posting_key || ')' end
        ), '') as hold_reason
    from ledger_headed as h
    left join ledger_headed as o
        on h.entry_type = 'payout_return'
        and o.entry_type = 'payout'
        and o.settlement_id = h.settlement_id
),

fee_vat as (
    select
        'mollie-fee-vat-' || f.invoice_id as posting_key,
        'fee_vat' as entry_type,
        f.invoice_id as source_id,
        null::varchar as balance_id,
        f.currency,
        f.issued_date as posting_date,
        'Journal Entry' as voucher_type,
        f.reference as cheque_no,
        f.issued_date as cheque_date,
        'VAT on Mollie fees, invoice ' || f.reference || ' (' || f.period_month || ')'
            as user_remark,
        0::decimal(18, 2) as clearing_amount,
        0::decimal(18, 2) as imbalance,
        case when abs(f.difference) > tol.fee_invoice then 'fee invoice ' || f.reference
            || ' differs from the month''s fees by ' || f.difference
            || ' (see marts.fee_invoice_reconciliation)' end as hold_reason
    from marts.fee_invoice_reconciliation as f
    cross join tol
    cross join cfg
    where cfg.vat_registered and f.invoice_vat <> 0
)

select * from ledger_status
union all by name
select * from fee_vat
