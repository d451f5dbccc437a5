-- grain: one row per paid-out settlement, with the bank deposit it matched (if any).
-- Rule (reconciliation identity 8, docs/design.md): a Mollie credit on the balance's payout account matches a settlement by
-- its bank reference first (in the description or end-to-end id); what is left matches by exact
-- amount within ±N business days (config.settings.match_window_business_days) of the payout
-- date, nearest date first, each side used once. Only settlements inside the period the loaded
-- statements cover are expected to have a deposit. Coverage is decided per settlement before it
-- is joined (any statement account of its currency, or its balance's payout account when Mollie
-- names one), so a settlement is one row even when several statement accounts share its
-- currency.
with settings as (
    select match_window_business_days as window_days from config.settings
),

payouts as (
    select s.settlement_id, s.reference, s.amount, s.currency, s.settled_date, b.payout_account_hash
    from staging.stg_mollie__settlements as s
    left join staging.stg_mollie__balances as b using (balance_id)
    where s.status = 'paidout'
),

deposits as (
    select * from staging.stg_bank__statement_lines where amount > 0 and is_mollie_payout
),

coverage as (
    select account_hash, currency, min(booking_date) as first_day, max(booking_date) as last_day
    from staging.stg_bank__statement_lines
    group by all
),

expected as (
    select p.settlement_id, bool_or(p.settled_date between c.first_day and c.last_day) as covered
    from payouts as p
    join coverage as c
        on c.currency = p.currency
        and (p.payout_account_hash is null or c.account_hash = p.payout_account_hash)
    group by p.settlement_id
),

by_reference as (
    select p.settlement_id, d.source_file, d.line_no, 'reference' as matched_by
    from payouts as p
    join deposits as d
        on d.currency = p.currency
        and (position(p.reference in coalesce(d.description, '')) > 0
             or d.end_to_end_id = p.reference)
    qualify row_number() over (partition by p.settlement_id order by d.booking_date, d.line_no) = 1
),

amount_candidates as (
    select
        p.settlement_id,
        d.source_file,
        d.line_no,
        (
            select count(*)
            from range(least(p.settled_date, d.booking_date), greatest(p.settled_date, d.booking_date),
                       interval 1 day) as r(day)
            where dayofweek(r.day) not in (0, 6)
        ) as business_days_apart
    from payouts as p
    join deposits as d
        on d.currency = p.currency
        and d.amount = p.amount
        and (p.payout_account_hash is null or d.account_hash = p.payout_account_hash)
    where not exists (select 1 from by_reference as r where r.settlement_id = p.settlement_id)
        and not exists (
            select 1 from by_reference as r where r.source_file = d.source_file and r.line_no = d.line_no
        )
),

by_amount as (
    select settlement_id, source_file, line_no, 'amount' as matched_by
    from amount_candidates, settings
    where business_days_apart <= settings.window_days
    qualify row_number() over (partition by settlement_id order by business_days_apart, line_no) = 1
        and row_number() over (partition by source_file, line_no order by business_days_apart, settlement_id) = 1
),

matches as (
    select * from by_reference
    union all
    select * from by_amount
)

select
    p.settlement_id,
    p.reference,
    p.amount,
    p.currency,
    p.settled_date,
    m.matched_by,
    d.source_file as deposit_file,
    d.line_no as deposit_line,
    d.booking_date as deposit_date,
    d.amount as deposit_amount,
    (
        select count(*)
        from range(least(p.settled_date, d.booking_date), greatest(p.settled_date, d.booking_date),
                   interval 1 day) as r(day)
        where dayofweek(r.day) not in (0, 6)
    ) as business_days_apart,
    coalesce(e.covered, false) as deposit_expected
from payouts as p
left join matches as m using (settlement_id)
left join deposits as d on d.source_file = m.source_file and d.line_no = m.line_no
left join expected as e using (settlement_id)
