-- grain: one row per subscription (sub_…), its latest known state.
-- `interval` ("1 month", "3 months", "12 months", "2 weeks", "14 days") is parsed into a number
-- and unit, and the amount normalised to a monthly amount (MRR) by that interval.
with parsed as (
    select
        *,
        try_cast(split_part(trim(interval), ' ', 1) as integer) as interval_count,
        rtrim(lower(split_part(trim(interval), ' ', 2)), 's') as interval_unit
    from mollie.subscriptions
    qualify row_number() over (partition by id order by _dlt_load_id desc) = 1
)
select
    id as subscription_id,
    customer_id,
    profile_id,
    mandate_id,
    status,
    method,
    description,
    amount,
    amount_currency as currency,
    interval,
    interval_count,
    interval_unit,
    times,
    times_remaining,
    start_date,
    next_payment_date,
    created_at,
    canceled_at,
    (
        case interval_unit
            when 'month' then amount / interval_count
            when 'year' then amount / (12 * interval_count)
            when 'week' then amount * 52 / (12 * interval_count)
            when 'day' then amount * 365 / (12 * interval_count)
        end
    )::decimal(18, 4) as monthly_amount
from parsed
