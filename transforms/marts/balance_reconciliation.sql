-- grain: one row per balance and report window (a day): Mollie's status-balances report, with
--   pending:   open + pending − movedToAvailable = close
--   available: open + movedFromPending + immediatelyAvailable = close
-- and the report's movements (pending + immediatelyAvailable: everything that hit the balance
-- that day) against the ledger rows created that day (Amsterdam time), which Mollie reports
-- separately: a missing or changed ledger row shows up as ledger_difference.
-- Mollie answers a report with `until` = the last day it covers (a request for until=D+1 echoes
-- until=D), so the window is date_from ..= date_until.
with nodes as (
    select * from staging.stg_mollie__balance_reports where depth = 0 and grouping = 'status-balances'
),

reports as (
    select
        report_id,
        balance_id,
        any_value(currency) as currency,
        any_value(date_from) as date_from,
        any_value(date_until) as date_until,
        sum(amount) filter (where path = 'pendingBalance.open') as open_pending,
        sum(amount) filter (where path = 'pendingBalance.pending') as pending,
        sum(amount) filter (where path = 'pendingBalance.movedToAvailable') as moved_to_available,
        sum(amount) filter (where path = 'pendingBalance.close') as close_pending,
        sum(amount) filter (where path = 'availableBalance.open') as open_available,
        sum(amount) filter (where path = 'availableBalance.movedFromPending') as moved_from_pending,
        sum(amount) filter (where path = 'availableBalance.immediatelyAvailable')
            as immediately_available,
        sum(amount) filter (where path = 'availableBalance.close') as close_available
    from nodes
    group by report_id, balance_id
),

ledger_days as (
    select balance_id, created_date, sum(net) as ledger_net, count(*) as ledger_rows
    from intermediate.int_ledger__categorised
    group by all
),

ledger_per_report as (
    select r.report_id, sum(l.ledger_net) as ledger_net, sum(l.ledger_rows) as ledger_rows
    from reports as r
    join ledger_days as l
        on l.balance_id = r.balance_id
        and l.created_date >= r.date_from
        and l.created_date <= r.date_until
    group by r.report_id
)

select
    r.report_id,
    r.balance_id,
    r.currency,
    r.date_from as report_date,
    r.date_until,
    coalesce(r.open_pending, 0) as open_pending,
    coalesce(r.pending, 0) as pending,
    coalesce(r.moved_to_available, 0) as moved_to_available,
    coalesce(r.close_pending, 0) as close_pending,
    coalesce(r.open_available, 0) as open_available,
    coalesce(r.moved_from_pending, 0) as moved_from_pending,
    coalesce(r.immediately_available, 0) as immediately_available,
    coalesce(r.close_available, 0) as close_available,
    coalesce(r.close_pending, 0) + coalesce(r.close_available, 0) as close_total,
    coalesce(r.open_pending, 0) + coalesce(r.pending, 0) - coalesce(r.moved_to_available, 0)
        - coalesce(r.close_pending, 0) as pending_difference,
    coalesce(r.open_available, 0) + coalesce(r.moved_from_pending, 0)
        + coalesce(r.immediately_available, 0) - coalesce(r.close_available, 0)
        as available_difference,
    coalesce(r.pending, 0) + coalesce(r.immediately_available, 0) as report_movements,
    coalesce(l.ledger_net, 0) as ledger_movements,
    coalesce(l.ledger_rows, 0) as ledger_rows,
    coalesce(r.pending, 0) + coalesce(r.immediately_available, 0)
        - coalesce(l.ledger_net, 0) as ledger_difference
from reports as r
left join ledger_per_report as l using (report_id)
