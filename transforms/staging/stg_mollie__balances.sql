-- grain: one row per Mollie balance (bal_…), with its amounts as of the last load.
-- The payout account's IBAN is pseudonymised; bank lines are matched on the same hash.
select
    id as balance_id,
    currency,
    status,
    mode,
    transfer_frequency,
    transfer_threshold,
    transfer_reference,
    pii_hash(transfer_destination_bank_account) as payout_account_hash,
    available_amount,
    pending_amount,
    available_amount + coalesce(pending_amount, 0) as total_amount,
    created_at
from mollie.balances
qualify row_number() over (partition by id order by _dlt_load_id desc) = 1
