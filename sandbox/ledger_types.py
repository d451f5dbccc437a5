"""Every balance-transaction type the sandbox books: its balance-report category and its label.

One table, so the balance reports, the settlement periods and the README agree. The category
is the `transaction-categories` section a row's gross amount is reported under (its fees are
always reported under `fee-prepayments`). Mollie's own reports group the types the same way its
spec's type description groups them (regular payment processing, refunds and chargebacks,
settlements, invoicing, Mollie Connect); where Mollie says nothing the choice is the sandbox's
and sandbox/README.md says so.
"""

from __future__ import annotations

CATEGORIES = (
    "payments",
    "refunds",
    "chargebacks",
    "capital",
    "transfers",
    "fee-prepayments",
    "corrections",
    "topups",
)

# type -> (transaction-categories section, settlement-period revenue label)
TYPES: dict[str, tuple[str, str]] = {
    # regular payment processing
    "payment": ("payments", "Payments"),
    "capture": ("payments", "Captures"),
    "failed-payment": ("payments", "Failed payments"),
    "unauthorized-direct-debit": ("payments", "Unauthorised direct debits"),
    # refunds and chargebacks
    "refund": ("refunds", "Refunds"),
    "returned-refund": ("refunds", "Returned refunds"),
    "refund-compensation": ("refunds", "Refund compensations"),
    "returned-refund-compensation": ("refunds", "Returned refund compensations"),
    "chargeback": ("chargebacks", "Chargebacks"),
    "chargeback-reversal": ("chargebacks", "Chargeback reversals"),
    "chargeback-compensation": ("chargebacks", "Chargeback compensations"),
    "reversed-chargeback-compensation": ("chargebacks", "Reversed chargeback compensations"),
    # settlements and other transfers
    "outgoing-transfer": ("transfers", "Payouts"),
    "returned-transfer": ("transfers", "Returned payouts"),
    "canceled-transfer": ("transfers", "Canceled payouts"),
    "canceled-outgoing-transfer": ("transfers", "Canceled payouts"),
    "outgoing-custom-amount-transfer": ("transfers", "Custom amount payouts"),
    "incoming-transfer": ("topups", "Incoming transfers"),
    "movement": ("transfers", "Balance movements"),
    # invoicing and corrections
    "invoice-compensation": ("corrections", "Invoice compensation"),
    "invoice-rounding-compensation": ("corrections", "Invoice rounding compensation"),
    "balance-correction": ("corrections", "Balance corrections"),
    "topup": ("topups", "Top-ups"),
    "balance-topup": ("topups", "Top-ups"),
    "balance-reserve": ("corrections", "Balance reserve"),
    "balance-reserve-return": ("corrections", "Balance reserve returned"),
    "cash-collateral-issuance": ("corrections", "Cash collateral issued"),
    "cash-collateral-release": ("corrections", "Cash collateral released"),
    # rolling reserve
    "rolling-reserve-hold": ("corrections", "Rolling reserve held"),
    "rolling-reserve-release": ("corrections", "Rolling reserve released"),
    "held-rolling-reserve": ("corrections", "Rolling reserve held"),
    "released-rolling-reserve": ("corrections", "Rolling reserve released"),
    "pending-rolling-reserve": ("corrections", "Rolling reserve pending"),
    "to-be-released-rolling-reserve": ("corrections", "Rolling reserve to be released"),
    "capture-rolling-reserve-release": ("corrections", "Rolling reserve released (captures)"),
    # fees booked as rows of their own (their amount is the deduction)
    "payment-fee": ("fee-prepayments", "Payment fees"),
    "failed-payment-fee": ("fee-prepayments", "Failed payment fees"),
    "reimbursement-fee": ("fee-prepayments", "Reimbursement fees"),
    "balance-charge-fee": ("fee-prepayments", "Balance charge fees"),
    "fee-prepayment": ("fee-prepayments", "Fee prepayments"),
    "managed-fee": ("fee-prepayments", "Managed fees"),
    "returned-managed-fee": ("fee-prepayments", "Returned managed fees"),
    "platform-connected-organizations-fee": ("fee-prepayments", "Connected organizations fees"),
    # Mollie Capital
    "loan": ("capital", "Mollie Capital loan"),
    "cash-advance-loan": ("capital", "Mollie Capital cash advance"),
    "repayment": ("capital", "Mollie Capital repayments"),
    # Mollie Connect (platforms)
    "application-fee": ("payments", "Application fees"),
    "split-payment": ("payments", "Split payments"),
    "post-payment-split-payment": ("payments", "Post-payment split payments"),
    "split-transaction": ("payments", "Split transactions"),
    "failed-platform-split-payment": ("payments", "Failed platform split payments"),
    "failed-split-payment-compensation": ("payments", "Failed split payment compensations"),
    "payment-commission": ("payments", "Payment commissions"),
    "capture-commission": ("payments", "Capture commissions"),
    "platform-payment-refund": ("refunds", "Platform payment refunds"),
    "returned-platform-payment-refund": ("refunds", "Returned platform payment refunds"),
    "platform-payment-chargeback": ("chargebacks", "Platform payment chargebacks"),
    "reversed-platform-payment-chargeback": ("chargebacks", "Reversed platform chargebacks"),
}

# How a row's deductions show in the balance reports: fees are fee prepayments; the other
# parts of deductionDetails are reported as their own movements.
DEDUCTION_PARTS = {
    "fees": ("fee-prepayment", "fee-prepayments"),
    "reservations": ("rolling-reserve-hold", "corrections"),
    "repayments": ("repayment", "capital"),
    "commissions": ("application-fee", "payments"),
}


def category_of(type_: str) -> str:
    """The transaction-categories section of a report line's transactionType."""
    if type_ == "fee-prepayment":
        return "fee-prepayments"
    return TYPES[type_][0]


def label_of(type_: str) -> str:
    return TYPES[type_][1]
