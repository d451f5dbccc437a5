-- grain: one row per bank statement line (source file × line), from the bank-statement drop
-- folder. IBANs are pseudonymised with the same key as Mollie's, so they still match.
select
    -- Bank export file names often carry the account's IBAN: keep the name, not the IBAN.
    regexp_replace(
        source_file, '[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}', 'account-' || substr(pii_hash(account_iban), 4, 8), 'g'
    ) as source_file,
    line_no,
    statement_id,
    entry_reference,
    pii_hash(account_iban) as account_hash,
    booking_date,
    value_date,
    amount,
    currency,
    counterparty_name,
    pii_hash(counterparty_iban) as counterparty_account_hash,
    description,
    end_to_end_id,
    -- Mollie payouts: the counterparty is Mollie, or the text names Mollie.
    coalesce(counterparty_name ilike '%mollie%', false)
        or coalesce(description ilike '%mollie%', false) as is_mollie_payout
from bank.statement_lines
where amount is not null
