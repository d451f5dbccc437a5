-- grain: one row per subscription: the span in which it counts towards MRR.
-- group: revenue
-- Starts: when created (pending subscriptions: at their start date). Ends: canceled → canceledAt;
-- suspended or completed (Mollie gives no timestamp) → one interval after its last paid charge,
-- or when created if it never charged; active and pending → open-ended.
with last_charge as (
    select subscription_id, max(paid_at) as last_paid_at
    from staging.stg_mollie__payments
    where subscription_id is not null and status = 'paid'
    group by all
)

select
    s.subscription_id,
    s.customer_id,
    s.currency,
    s.status,
    s.monthly_amount,
    case when s.status = 'pending' then s.start_date::timestamptz else s.created_at end as starts_at,
    case
        when s.status = 'canceled' then s.canceled_at
        when s.status in ('suspended', 'completed') then coalesce(
            lc.last_paid_at + to_months(coalesce(s.interval_count, 1)), s.created_at
        )
    end as ends_at
from staging.stg_mollie__subscriptions as s
left join last_charge as lc using (subscription_id)
where s.monthly_amount is not null
