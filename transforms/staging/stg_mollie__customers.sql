-- grain: one row per customer (cst_…). Name and email are pseudonymised (keyed HMAC); the
-- email's domain is kept for analysis.
select
    id as customer_id,
    mode,
    locale,
    created_at,
    pii_hash(name) as name_hash,
    pii_hash(email) as email_hash,
    lower(split_part(email, '@', 2)) as email_domain
from mollie.customers
qualify row_number() over (partition by id order by _dlt_load_id desc) = 1
