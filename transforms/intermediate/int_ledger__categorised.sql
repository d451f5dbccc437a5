-- grain: one row per balance transaction, with its category and account role from the type map.
-- The type map is seeds.balance_transaction_types (transforms/seeds/balance_transaction_types.csv,
-- documented in docs/type-map.md): every type Mollie documents, with its category, the account
-- role its gross books to, the sign Mollie gives its initialAmount and how a settlement claims it
-- (settlement_tie: object = by the payment/refund/chargeback/capture the settlement lists,
-- payout = the settlement's own outgoing transfer, window = by time). A type the map does not know
-- keeps category NULL (type_known false): reconciliation_exceptions reports it as a blocking
-- finding and holds its settlement; nothing is sent to a catch-all.
-- Amounts, all DECIMAL with Mollie's signs:
--   gross                  initialAmount
--   fee_deduction          deductionDetails.fees; the whole of deductions only where Mollie sent
--                          no deductionDetails at all (older rows), never when it split them
--   reservation_deduction  deductionDetails.reservations (rolling reserve withheld, <= 0)
--   repayment_deduction    deductionDetails.repayments (Mollie Capital loan repaid, <= 0)
--   commission_deduction   deductionDetails.commissions (application fees, commissions, <= 0)
--   net                    resultAmount
-- gross + the four deductions = net when Mollie's details add up to its deductions
-- (reconciliation_exceptions checks both).
with transactions as (
    select
        t.*,
        t.deduction_fees is null
            and t.deduction_reservations is null
            and t.deduction_repayments is null
            and t.deduction_commissions is null as has_no_deduction_details
    from staging.stg_mollie__balance_transactions as t
)

select
    t.* exclude (has_no_deduction_details),
    m.category,
    m.account_role,
    m.initial_sign,
    m.context_object,
    m.settlement_tie,
    m.type is not null as type_known,
    t.initial_amount as gross,
    case
        when t.has_no_deduction_details then t.deductions
        else coalesce(t.deduction_fees, 0)
    end as fee_deduction,
    coalesce(t.deduction_reservations, 0) as reservation_deduction,
    coalesce(t.deduction_repayments, 0) as repayment_deduction,
    coalesce(t.deduction_commissions, 0) as commission_deduction,
    t.result_amount as net
from transactions as t
left join seeds.balance_transaction_types as m on m.type = t.type
