-- grain: one row per month and currency: total MRR and its movement, from customer_mrr.
-- group: revenue
-- mrr = previous_mrr + new + expansion + reactivation + contraction + churned (the last two
-- negative), so the bridge always closes.
select
    month,
    currency,
    sum(mrr) as mrr,
    sum(previous_mrr) as previous_mrr,
    coalesce(sum(mrr_change) filter (where movement = 'new'), 0) as new_mrr,
    coalesce(sum(mrr_change) filter (where movement = 'expansion'), 0) as expansion_mrr,
    coalesce(sum(mrr_change) filter (where movement = 'reactivation'), 0) as reactivation_mrr,
    coalesce(sum(mrr_change) filter (where movement = 'contraction'), 0) as contraction_mrr,
    coalesce(sum(mrr_change) filter (where movement = 'churned'), 0) as churned_mrr,
    count(*) filter (where mrr > 0) as paying_customers,
    count(*) filter (where movement = 'new') as new_customers,
    count(*) filter (where movement = 'churned') as churned_customers,
    count(*) filter (where movement = 'reactivation') as reactivated_customers
from marts.customer_mrr
group by all
