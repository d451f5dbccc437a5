-- grain: one row per outgoing transfer that is no settlement's payout (an
-- outgoing-custom-amount-transfer, or a transfer row without a settlement id), with the bank
-- deposit it matched (if any).
-- Rule, as for settlements: a Mollie credit in the transfer's currency matches it by reference
-- first (the transaction id or the transfer id in the description or end-to-end id), else by
-- exact amount within ±N business days (config.settings.match_window_business_days) of the
-- transfer's day, nearest first, each deposit used once. Deposits already matched to a
-- settlement are not offered.
with settings as (
    select match_window_business_days as window_days from config.settings
),

transfers as (
    select transaction_id, transfer_id, currency, -net as amount, created_date
    from intermediate.int_ledger__categorised
    where category = 'payout' and settlement_id is null
),

deposits as (
    select d.*
    from staging.stg_bank__statement_lines as d
    where d.amount > 0 and d.is_mollie_payout
        and not exists (
            select 1 from intermediate.int_bank__payout_matches as p
            where p.deposit_file = d.source_file and p.deposit_line = d.line_no
        )
),

by_reference as (
    select t.transaction_id, d.source_file, d.line_no, 'reference' as matched_by
    from transfers as t
    join deposits as d
        on d.currency = t.currency
        and (
            position(t.transaction_id in coalesce(d.description, '')) > 0
            or d.end_to_end_id = t.transaction_id
            or (t.transfer_id is not null and (
                position(t.transfer_id in coalesce(d.description, '')) > 0
                or d.end_to_end_id = t.transfer_id
            ))
        )
    qualify row_number() over (partition by t.transaction_id order by d.booking_date, d.line_no) = 1
),

amount_candidates as (
    select
        t.transaction_id,
        d.source_file,
        d.line_no,
        (
            select count(*)
            from range(least(t.created_date, d.booking_date), greatest(t.created_date, d.booking_date),
                       interval 1 day) as r(day)
            where dayofweek(r.day) not in (0, 6)
        ) as business_days_apart
    from transfers as t
    join deposits as d on d.currency = t.currency and d.amount = t.amount
    where not exists (select 1 from by_reference as r where r.transaction_id = t.transaction_id)
        and not exists (
            select 1 from by_reference as r where r.source_file = d.source_file and r.line_no = d.line_no
        )
),

by_amount as (
    select transaction_id, source_file, line_no, 'amount' as matched_by
    from amount_candidates, settings
    where business_days_apart <= settings.window_days
    qualify row_number() over (partition by transaction_id order by business_days_apart, line_no) = 1
        and row_number() over (
            partition by source_file, line_no order by business_days_apart, transaction_id
        ) = 1
),

matches as (
    select * from by_reference
    union all
    select * from by_amount
)

select
    t.transaction_id,
    t.transfer_id,
    t.currency,
    t.amount,
    t.created_date,
    m.matched_by,
    m.source_file as deposit_file,
    m.line_no as deposit_line
from transfers as t
left join matches as m using (transaction_id)
