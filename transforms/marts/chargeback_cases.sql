-- grain: one row per chargeback (chb_…): a dispute case for the bookkeeper.
-- group: revenue
-- As of the data's last ledger moment (not the wall clock, so a rebuild is reproducible).
-- fee: the chargeback fee Mollie deducted on its ledger row (VAT-inclusive, positive here).
-- Customer history counts the customer's payments and chargebacks up to this case.
-- Priority (re-specified from the app this replaces; each point documented):
--   +40 amount ≥ 500, or +20 amount ≥ 100 (in the payment currency)
--   +30 the reason is a fraud claim (payer denies authorising: int_chargeback_reason_codes)
--   +20 the customer had an earlier chargeback
--   +10 still open (not reversed)          +10 open for more than 30 days
--   critical ≥ 70, high ≥ 50, medium ≥ 30, else low; reversed cases are always 'closed'.
with as_of as (
    select max(created_at) as as_of from intermediate.int_ledger__categorised
),

cases as (
    select
        c.chargeback_id,
        c.payment_id,
        p.customer_id,
        p.method,
        c.reason_code,
        c.amount,
        c.currency,
        c.created_at,
        c.reversed_at,
        c.is_reversed,
        c.settlement_id,
        -l.fee_deduction as fee,
        l.net as ledger_net
    from staging.stg_mollie__chargebacks as c
    left join staging.stg_mollie__payments as p using (payment_id)
    left join intermediate.int_ledger__categorised as l
        on l.chargeback_id = c.chargeback_id and l.category = 'chargeback'
        and l.settlement_tie = 'object'
),

history as (
    select
        k.chargeback_id,
        (select count(*) from staging.stg_mollie__payments as p
         where p.customer_id = k.customer_id and p.created_at <= k.created_at) as customer_payments,
        (select count(*) from cases as o
         where o.customer_id = k.customer_id and o.created_at < k.created_at) as customer_previous_chargebacks
    from cases as k
),

scored as (
    select
        k.*,
        r.meaning as reason_meaning,
        coalesce(r.is_fraud_claim, false) as is_fraud_claim,
        date_diff('day', k.created_at, coalesce(k.reversed_at, a.as_of)) as age_days,
        h.customer_payments,
        h.customer_previous_chargebacks,
        (case when k.amount >= 500 then 40 when k.amount >= 100 then 20 else 0 end)
        + (case when coalesce(r.is_fraud_claim, false) then 30 else 0 end)
        + (case when h.customer_previous_chargebacks > 0 then 20 else 0 end)
        + (case when not k.is_reversed then 10 else 0 end)
        + (case when not k.is_reversed and date_diff('day', k.created_at, a.as_of) > 30
            then 10 else 0 end) as priority_score
    from cases as k
    cross join as_of as a
    left join history as h using (chargeback_id)
    left join intermediate.int_chargeback_reason_codes as r on r.code = k.reason_code
)

select
    chargeback_id,
    payment_id,
    customer_id,
    method,
    reason_code,
    reason_meaning,
    is_fraud_claim,
    amount,
    currency,
    fee,
    ledger_net,
    created_at,
    reversed_at,
    case when is_reversed then 'reversed' else 'open' end as state,
    age_days,
    customer_payments,
    customer_previous_chargebacks,
    settlement_id,
    priority_score,
    case
        when is_reversed then 'closed'
        when priority_score >= 70 then 'critical'
        when priority_score >= 50 then 'high'
        when priority_score >= 30 then 'medium'
        else 'low'
    end as priority
from scored
