-- grain: one row per balance and day of Mollie's balance report (balance × Amsterdam day).
-- The identity that proves the books: at the end of every day, the balance's clearing account in
-- the journal equals Mollie's own balance (pending + available) from the balance report.
--   opening_balance   Mollie's balance at the start of the first reported day (pending +
--                     available open): history starts there, so the journal is measured from
--                     it. mollie-ledger does not post it: it is what the books held before
--                     (zero for a new account; otherwise the treasurer's opening entry).
--   journal_close     opening_balance + Σ clearing lines of the ready entries dated from the
--                     first reported day up to this day (marts.journal_entry_status)
--   held_close        Σ clearing lines of the held entries over the same days
--   mollie_close      the report's pendingBalance.close + availableBalance.close
--   difference        journal_close − mollie_close
-- status: matched (difference 0); held (the difference is exactly what held entries would
-- book: each is reported where it is held); off (anything else: a finding on that day,
-- check clearing_balance in marts.reconciliation_exceptions).
with reports as (
    select
        balance_id,
        currency,
        report_date,
        open_pending + open_available as open_total,
        close_total as mollie_close,
        min(report_date) over (partition by balance_id) as first_day
    from marts.balance_reconciliation
),

opening as (
    select balance_id, open_total as opening_balance
    from reports
    where report_date = first_day
),

movements as (
    select
        balance_id,
        posting_date,
        coalesce(sum(clearing_amount) filter (where hold_reason is null), 0) as ready,
        coalesce(sum(clearing_amount) filter (where hold_reason is not null), 0) as held
    from marts.journal_entry_status
    where balance_id is not null
    group by all
),

days as (
    select
        r.balance_id,
        r.currency,
        r.report_date,
        o.opening_balance,
        r.mollie_close,
        coalesce(sum(m.ready) filter (where m.posting_date = r.report_date), 0)
            as journal_movement,
        o.opening_balance + coalesce(sum(m.ready), 0) as journal_close,
        coalesce(sum(m.held), 0) as held_close
    from reports as r
    join opening as o using (balance_id)
    left join movements as m
        on m.balance_id = r.balance_id
        and m.posting_date >= r.first_day
        and m.posting_date <= r.report_date
    group by r.balance_id, r.currency, r.report_date, o.opening_balance, r.mollie_close
)

select
    d.balance_id,
    d.currency,
    ca.account as clearing_account,
    d.report_date,
    d.opening_balance,
    d.journal_movement,
    d.journal_close,
    d.held_close,
    d.mollie_close,
    d.journal_close - d.mollie_close as difference,
    case
        when d.journal_close = d.mollie_close then 'matched'
        when d.journal_close + d.held_close = d.mollie_close then 'held'
        else 'off'
    end as status
from days as d
left join config.clearing_accounts as ca using (currency)
