-- grain: one row per journal entry built from Mollie's ledger × account role (posting key × role).
-- Every balance transaction books into exactly one entry, on the Amsterdam day it happened:
--   payout           its settlement's payout entry    mollie-payout-<settlement id>
--   payout_reversal  its own return entry             mollie-payout-return-<transaction id>
--   every other row  its balance's day entry          mollie-day-<balance id>-<YYYY-MM-DD>
-- A row's amounts, signed as debits (a credit is negative), by account role:
--   clearing                      +net     (what reached or left Mollie's balance)
--   the type map's account_role   −gross   (receipts, refunds, bank for payouts and top-ups, …)
--   fees                          −fee_deduction          (VAT-inclusive, from deductionDetails)
--   reserve                       −reservation_deduction  (rolling reserve withheld)
--   loan                          −repayment_deduction    (Mollie Capital repaid)
--   commissions                   −commission_deduction
-- These sum to zero whenever Mollie's row adds up (net = gross + deductions); what does not is
-- left for marts.journal_entry_status to judge against the tolerance. A type the map does not
-- know has no role (role NULL here): its entry is held, never booked to a catch-all.
with rows as (
    select
        l.*,
        case l.category
            when 'payout' then 'payout'
            when 'payout_reversal' then 'payout_return'
            else 'day'
        end as entry_type
    from intermediate.int_ledger__categorised as l
),

keyed as (
    select
        *,
        case entry_type
            when 'payout' then 'mollie-payout-' || coalesce(settlement_id, transaction_id)
            when 'payout_return' then 'mollie-payout-return-' || transaction_id
            else 'mollie-day-' || balance_id || '-' || strftime(created_date, '%Y-%m-%d')
        end as posting_key,
        case entry_type
            when 'payout' then coalesce(settlement_id, transaction_id)
            when 'payout_return' then transaction_id
            else balance_id || '/' || strftime(created_date, '%Y-%m-%d')
        end as source_id
    from rows
),

amounts as (
    select k.posting_key, r.role, r.amount
    from keyed as k,
    lateral (values
        ('clearing', k.net),
        (k.account_role, -k.gross),
        ('fees', -k.fee_deduction),
        ('reserve', -k.reservation_deduction),
        ('loan', -k.repayment_deduction),
        ('commissions', -k.commission_deduction)
    ) as r(role, amount)
),

entries as (
    -- a payout entry may gather several transfer rows of one settlement; they share a day
    select
        posting_key,
        any_value(entry_type) as entry_type,
        any_value(source_id) as source_id,
        any_value(balance_id) as balance_id,
        any_value(currency) as currency,
        min(created_date) as posting_date,
        any_value(settlement_id) as settlement_id,
        any_value(transfer_id) as transfer_id,
        count(*) as ledger_rows
    from keyed
    group by posting_key
)

select
    e.posting_key,
    e.entry_type,
    e.source_id,
    e.balance_id,
    e.currency,
    e.posting_date,
    e.settlement_id,
    e.transfer_id,
    e.ledger_rows,
    a.role,
    sum(a.amount)::decimal(18, 2) as amount
from amounts as a
join entries as e using (posting_key)
group by all
