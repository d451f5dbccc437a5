-- grain: one row per customer, currency and month (from the customer's first MRR month to the
-- group: revenue
-- data's last month; months with neither MRR nor MRR the month before are left out).
-- MRR = Σ monthly amount of the customer's subscriptions active at the END of the month (a
-- subscription canceled mid-month no longer counts that month, as in Fivetran's dbt_stripe).
-- Movement (MRR playbook, customer grain), comparing with the previous month:
--   new           previous 0 and the customer never had MRR before, now > 0
--   reactivation  previous 0 but had MRR in an earlier month, now > 0
--   expansion     previous > 0 and now higher        contraction   previous > 0, now lower but > 0
--   churned       previous > 0 and now 0              unchanged     previous > 0 and equal
with periods as (
    select * from intermediate.int_subscription__periods
),

as_of as (
    select date_trunc('month', max(created_date))::date as last_month
    from intermediate.int_ledger__categorised
),

months as (
    select
        p.customer_id,
        p.currency,
        unnest(generate_series(
            min(date_trunc('month', p.starts_at))::date, any_value(a.last_month), interval 1 month
        ))::date as month
    from periods as p, as_of as a
    group by p.customer_id, p.currency
),

mrr as (
    select
        m.customer_id,
        m.currency,
        m.month,
        coalesce(sum(p.monthly_amount), 0)::decimal(18, 4) as mrr,
        count(p.subscription_id) as active_subscriptions
    from months as m
    left join periods as p
        on p.customer_id = m.customer_id
        and p.currency = m.currency
        and p.starts_at < (m.month + interval 1 month)
        and (p.ends_at is null or p.ends_at >= (m.month + interval 1 month))
    group by all
),

compared as (
    select
        *,
        coalesce(lag(mrr) over w, 0) as previous_mrr,
        coalesce(max(case when mrr > 0 then 1 else 0 end) over (
            partition by customer_id, currency order by month
            rows between unbounded preceding and 1 preceding
        ), 0) = 1 as had_mrr_before
    from mrr
    window w as (partition by customer_id, currency order by month)
)

select
    customer_id,
    currency,
    month,
    mrr,
    previous_mrr,
    mrr - previous_mrr as mrr_change,
    active_subscriptions,
    case
        when previous_mrr = 0 and mrr > 0 and not had_mrr_before then 'new'
        when previous_mrr = 0 and mrr > 0 then 'reactivation'
        when previous_mrr > 0 and mrr = 0 then 'churned'
        when previous_mrr > 0 and mrr > previous_mrr then 'expansion'
        when previous_mrr > 0 and mrr < previous_mrr then 'contraction'
        else 'unchanged'
    end as movement
from compared
where mrr > 0 or previous_mrr > 0
