-- grain: one row per organization (org_…), as last loaded.
-- The organization's own contact email is pseudonymised like any other address.
select
    id as organization_id,
    name,
    locale,
    country,
    city,
    registration_number,
    vat_number,
    vat_regulation,
    pii_hash(email) as email_hash
from mollie.organizations
qualify row_number() over (partition by id order by _dlt_load_id desc) = 1
