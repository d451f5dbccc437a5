-- grain: one row per balance transaction, with its reporting category.
-- Categories (like Fivetran's reporting_category over Stripe types; Mollie's type list is open,
-- so unknown types fall into 'other' instead of failing):
--   payment: payment, capture            refund: refund, refund-compensation, returned-refund
--   chargeback: chargeback, chargeback-compensation      chargeback_reversal: chargeback-reversal,
--   reversed-chargeback-compensation     payout: outgoing-transfer, outgoing-custom-amount-transfer
--   payout_reversal: canceled-transfer, returned-transfer
--   compensation: invoice-compensation, invoice-rounding-compensation
--   fee: payment-fee, balance-charge-fee, application-fee, fee-prepayment      other: the rest
-- gross = initialAmount, fee = deductions (Mollie's VAT-inclusive fees, <= 0), net = resultAmount.
select
    t.*,
    case
        when t.type in ('payment', 'capture') then 'payment'
        when t.type in ('refund', 'refund-compensation', 'returned-refund') then 'refund'
        when t.type in ('chargeback', 'chargeback-compensation') then 'chargeback'
        when t.type in ('chargeback-reversal', 'reversed-chargeback-compensation')
            then 'chargeback_reversal'
        when t.type in ('outgoing-transfer', 'outgoing-custom-amount-transfer') then 'payout'
        when t.type in ('canceled-transfer', 'returned-transfer') then 'payout_reversal'
        when t.type in ('invoice-compensation', 'invoice-rounding-compensation') then 'compensation'
        when t.type in ('payment-fee', 'balance-charge-fee', 'application-fee', 'fee-prepayment')
            then 'fee'
        else 'other'
    end as category,
    t.initial_amount as gross,
    t.deductions as fee,
    t.result_amount as net
from staging.stg_mollie__balance_transactions as t
