-- grain: one row per balance and forecast day (the N days after the data's last day,
-- group: revenue
-- N = config.settings.forecast_horizon_days).
-- Model: the available balance grows each day by the balance's mean daily net activity over the
-- last 28 days (payouts excluded); today's pending amount becomes available on day 1; on each
-- payout day of its transfer frequency, if the available amount reaches the threshold, all of it
-- is paid out (the balance is meant to fall to ~0 then: that is not an anomaly).
-- Anomalies (is_anomaly, anomaly_reason), i.e. what a treasurer should look at:
--   negative_balance   the expected available balance ends a day below zero
--   missed_payout      the last payout is older than its frequency allows (+2 days slack) while
--                      the available amount is above the threshold
--   unusual_activity   the last day's net activity is more than 3 standard deviations from the
--                      28-day mean
with recursive settings as (
    select forecast_horizon_days as horizon from config.settings
),

ledger as (
    select * from intermediate.int_ledger__categorised
),

as_of as (
    select max(created_date) as today from ledger
),

days as (
    select b.balance_id, unnest(generate_series(a.today - 28, a.today - 1, interval 1 day))::date as day
    from staging.stg_mollie__balances as b, as_of as a
),

daily as (
    select d.balance_id, d.day, coalesce(sum(l.net), 0) as net
    from days as d
    left join ledger as l
        on l.balance_id = d.balance_id and l.created_date = d.day
        and l.category is distinct from 'payout'
    group by all
),

stats as (
    select
        balance_id,
        avg(net)::decimal(18, 2) as mean_daily_net,
        coalesce(stddev_samp(net), 0) as stddev_daily_net
    from daily
    group by all
),

last_day as (
    select l.balance_id, coalesce(sum(l.net) filter (where l.category is distinct from 'payout'), 0) as net
    from ledger as l, as_of as a
    where l.created_date = a.today
    group by all
),

last_payout as (
    select balance_id, max(created_date) as last_payout_date
    from ledger
    where category = 'payout'
    group by all
),

balances as (
    select
        b.balance_id,
        b.currency,
        b.transfer_frequency,
        coalesce(b.transfer_threshold, 0) as threshold,
        b.available_amount,
        coalesce(b.pending_amount, 0) as pending_amount,
        coalesce(s.mean_daily_net, 0) as mean_daily_net,
        s.stddev_daily_net,
        coalesce(ld.net, 0) as last_day_net,
        lp.last_payout_date,
        a.today
    from staging.stg_mollie__balances as b
    cross join as_of as a
    left join stats as s using (balance_id)
    left join last_day as ld using (balance_id)
    left join last_payout as lp using (balance_id)
),

calendar as (
    select
        b.balance_id,
        n as day_number,
        (b.today + n::integer)::date as forecast_date,
        case
            when b.transfer_frequency in ('daily', 'every-day')
                then dayofweek(b.today + n::integer) between 1 and 5
            when b.transfer_frequency like 'every-%'
                then lower(dayname(b.today + n::integer)) = replace(b.transfer_frequency, 'every-', '')
            when b.transfer_frequency = 'monthly' then day(b.today + n::integer) = 1
            else false
        end as is_payout_day
    from balances as b, settings, range(1, settings.horizon + 1) as r(n)
),

walk(balance_id, day_number, available_before, payout, available_end) as (
    -- day 0: today's available plus pending (pending becomes available on day 1)
    select balance_id, 0, null::decimal(18, 2), 0::decimal(18, 2), available_amount + pending_amount
    from balances
    union all
    select
        w.balance_id,
        w.day_number + 1,
        step.before,
        step.payout,
        step.before - step.payout
    from walk as w
    join calendar as c on c.balance_id = w.balance_id and c.day_number = w.day_number + 1
    join balances as b on b.balance_id = w.balance_id
    cross join lateral (
        select
            w.available_end + b.mean_daily_net as before,
            case
                when c.is_payout_day and w.available_end + b.mean_daily_net >= greatest(b.threshold, 0.01)
                    then w.available_end + b.mean_daily_net
                else 0
            end as payout
    ) as step
),

flagged as (
    select
        w.*,
        c.forecast_date,
        c.is_payout_day,
        b.currency,
        b.mean_daily_net as expected_daily_net,
        b.transfer_frequency,
        w.available_end < 0 as negative_balance,
        b.available_amount >= b.threshold and b.threshold > 0
            and b.last_payout_date is not null
            and date_diff('day', b.last_payout_date, b.today) > case
                when b.transfer_frequency in ('daily', 'every-day') then 3 + 2
                when b.transfer_frequency = 'monthly' then 31 + 2
                when b.transfer_frequency like 'every-%' then 7 + 2
                else 100000
            end as missed_payout,
        b.stddev_daily_net > 0
            and abs(b.last_day_net - b.mean_daily_net) > 3 * b.stddev_daily_net as unusual_activity
    from walk as w
    join calendar as c using (balance_id, day_number)
    join balances as b using (balance_id)
    where w.day_number > 0
)

select
    balance_id,
    currency,
    forecast_date,
    day_number,
    is_payout_day,
    expected_daily_net,
    available_before::decimal(18, 2) as expected_available_before_payout,
    payout::decimal(18, 2) as expected_payout,
    available_end::decimal(18, 2) as expected_available,
    negative_balance or missed_payout or unusual_activity as is_anomaly,
    nullif(concat_ws(', ',
        case when negative_balance then 'negative_balance' end,
        case when missed_payout then 'missed_payout' end,
        case when unusual_activity then 'unusual_activity' end
    ), '') as anomaly_reason
from flagged
