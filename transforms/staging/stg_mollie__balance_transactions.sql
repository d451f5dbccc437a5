-- grain: one row per balance transaction (baltr_…): one immutable line of the Mollie ledger.
-- Amounts keep Mollie's signs (outflows negative). deductions is Mollie's total withheld (<= 0);
-- deduction_fees / _reservations / _repayments / _commissions are its deductionDetails, NULL
-- where Mollie sent no such part (all four NULL: Mollie sent no details at all).
select
    id as transaction_id,
    balance_id,
    type,
    created_at,
    (created_at at time zone 'Europe/Amsterdam')::date as created_date,
    result_amount_currency as currency,
    initial_amount,
    coalesce(deductions, 0) as deductions,
    result_amount,
    deduction_fees,
    deduction_reservations,
    deduction_repayments,
    deduction_commissions,
    payment_id,
    refund_id,
    chargeback_id,
    capture_id,
    settlement_id,
    transfer_id,
    invoice_id
from mollie.balance_transactions
qualify row_number() over (partition by id order by _dlt_load_id desc) = 1
