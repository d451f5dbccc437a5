-- grain: one row per payment (tr_…), its latest known state.
-- PII in `details` (consumer name and account, card holder) is pseudonymised; the rest of
-- `details` is dropped.
select
    id as payment_id,
    profile_id,
    customer_id,
    subscription_id,
    mandate_id,
    settlement_id,
    order_id,
    status,
    method,
    sequence_type,
    capture_mode,
    description,
    country_code,
    amount,
    amount_currency as currency,
    coalesce(amount_refunded, 0) as amount_refunded,
    coalesce(amount_remaining, 0) as amount_remaining,
    coalesce(amount_captured, 0) as amount_captured,
    coalesce(amount_charged_back, 0) as amount_charged_back,
    settlement_amount,
    settlement_amount_currency as settlement_currency,
    created_at,
    (created_at at time zone 'Europe/Amsterdam')::date as created_date,
    paid_at,
    authorized_at,
    canceled_at,
    expired_at,
    failed_at,
    pii_hash(details->>'consumerName') as consumer_name_hash,
    pii_hash(details->>'consumerAccount') as consumer_account_hash,
    pii_hash(details->>'cardHolder') as card_holder_hash,
    details->>'cardLabel' as card_label,
    details->>'cardCountryCode' as card_country_code
from mollie.payments
qualify row_number() over (partition by id order by _dlt_load_id desc) = 1
