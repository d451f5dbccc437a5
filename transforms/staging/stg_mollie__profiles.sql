-- grain: one row per website profile (pfl_…).
select
    id as profile_id,
    name,
    website,
    business_category,
    status,
    mode,
    created_at,
    pii_hash(email) as email_hash
from mollie.profiles
qualify row_number() over (partition by id order by _dlt_load_id desc) = 1
