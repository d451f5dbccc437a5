-- grain: one row per chargeback reason code (scheme × code) with its meaning.
-- group: revenue
-- Reference data: SEPA return reasons (ISO 20022 ExternalReturnReason1Code) and the card and
-- PayPal codes Mollie passes on. `is_fraud_claim` marks codes where the payer denies authorising
-- the payment; they weigh more in chargeback_cases.priority.
select * from (values
    ('sepa', 'AC01', 'Account identifier incorrect', false),
    ('sepa', 'AC04', 'Account closed', false),
    ('sepa', 'AC06', 'Account blocked', false),
    ('sepa', 'AM04', 'Insufficient funds', false),
    ('sepa', 'MD01', 'No valid mandate', true),
    ('sepa', 'MD06', 'Refund request by end customer (within 8 weeks)', false),
    ('sepa', 'MS02', 'Refusal by the debtor', false),
    ('sepa', 'MS03', 'Reason not specified', false),
    ('sepa', 'SL01', 'Specific service offered by the debtor bank', false),
    ('card', '10.4', 'Visa: other fraud, card-absent environment', true),
    ('card', '13.1', 'Visa: merchandise or services not received', false),
    ('card', '13.3', 'Visa: not as described or defective merchandise', false),
    ('card', '4837', 'Mastercard: no cardholder authorization', true),
    ('card', '4853', 'Mastercard: cardholder dispute', false),
    ('paypal', 'PP-UNAUTH', 'PayPal: unauthorized transaction', true),
    ('paypal', 'PP-INR', 'PayPal: item not received', false)
) as t(scheme, code, meaning, is_fraud_claim)
