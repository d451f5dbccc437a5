"""The sandbox merchant's Mollie price list, fee VAT and settlement timing.

Figures follow Mollie's public Dutch price list in shape (a fixed part plus a percentage per
method, flat fees for refunds and chargebacks, 21 % Dutch VAT on fees); the exact numbers are
illustrative. Money is in integer units of 1/10 000 (see `money.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.money import percent_of, round_units, units

VAT_PERCENTAGE = 21


@dataclass(frozen=True, slots=True)
class Price:
    key: str  # fee line key, also the settlement cost line's method
    description: str  # as on Mollie's fee invoice
    fixed: int  # units
    percentage: str | None  # "1.80" means 1.80 % of the amount

    def net_fee(self, amount_units: int) -> int:
        """The fee excluding VAT, exact to 4 decimals."""
        variable = percent_of(abs(amount_units), self.percentage) if self.percentage else 0
        return self.fixed + variable


PAYMENT_PRICES: dict[str, Price] = {
    "ideal": Price("ideal", "iDEAL transaction fees", units("0.29"), None),
    "bancontact": Price("bancontact", "Bancontact transaction fees", units("0.39"), "1.40"),
    "creditcard": Price("creditcard", "Credit card transaction fees", units("0.25"), "1.80"),
    "applepay": Price("applepay", "Apple Pay transaction fees", units("0.25"), "1.80"),
    "paypal": Price("paypal", "PayPal transaction fees", units("0.10"), "0.35"),
    "directdebit": Price("directdebit", "SEPA Direct Debit transaction fees", units("0.25"), None),
}
REFUND_PRICE = Price("refund", "Refund fees", units("0.25"), None)
_CARD_CHARGEBACK = Price("chargeback-card", "Chargeback fees (cards, PayPal)", units("15.00"), None)
CHARGEBACK_PRICES: dict[str, Price] = {
    "creditcard": _CARD_CHARGEBACK,
    "paypal": _CARD_CHARGEBACK,
    "directdebit": Price(
        "chargeback-sepa", "Chargeback fees (SEPA Direct Debit)", units("3.95"), None
    ),
}
# Fees Mollie books as rows of their own (a fee type whose whole movement is the deduction), keyed
# by the balance-transaction type that carries them.
FEE_ROW_PRICES: dict[str, Price] = {
    "failed-payment-fee": Price(
        "failed-payment-fee", "Failed SEPA Direct Debit fees", units("0.50"), None
    ),
    "payment-fee": Price("payment-fee", "Payment fees", units("0.10"), None),
    "reimbursement-fee": Price("reimbursement-fee", "Reimbursement fees", units("0.50"), None),
    "balance-charge-fee": Price("balance-charge-fee", "Balance charge fees", units("1.00"), None),
    "fee-prepayment": Price("fee-prepayment", "Fee prepayments", units("5.00"), None),
    "managed-fee": Price("managed-fee", "Managed fees", units("2.50"), None),
    "platform-connected-organizations-fee": Price(
        "platform-connected-organizations-fee",
        "Platform connected organizations fees",
        units("1.50"),
        None,
    ),
}
# Invoiced at the end of the month and not deducted in real time: the bank's reversal of a
# direct debit the member did not authorise. Mollie takes it from the balance as
# `invoice-compensation` when the invoice is issued.
UNAUTHORIZED_DEBIT_PRICE = Price(
    "unauthorized-direct-debit", "Unauthorised SEPA Direct Debit reversals", units("3.95"), None
)
ALL_PRICES: dict[str, Price] = {
    p.key: p
    for p in [
        *PAYMENT_PRICES.values(),
        REFUND_PRICE,
        *CHARGEBACK_PRICES.values(),
        *FEE_ROW_PRICES.values(),
        UNAUTHORIZED_DEBIT_PRICE,
    ]
}


def gross_fee(net_units: int) -> int:
    """The VAT-inclusive fee Mollie deducts in real time: net × 1.21, rounded to cents."""
    return round_units(net_units + percent_of(net_units, str(VAT_PERCENTAGE)), 2)


def priced_line(price: Price, count: int, base: int) -> tuple[int, int, int]:
    """A period or invoice cost line as Mollie prices it: (net, VAT, gross) at 4 decimals.

    rate × count: the fixed part times the count plus the percentage of the summed amounts
    (`base`), then VAT on that net. Never the sum of the per-transaction deductions, which
    were each rounded to cents: the two differ by fractions of a cent per transaction, and
    Mollie compensates that difference on the monthly invoice.
    """
    net = price.fixed * count + (percent_of(base, price.percentage) if price.percentage else 0)
    vat = percent_of(net, str(VAT_PERCENTAGE))
    return net, vat, net + vat


# Days from payment to available funds, per method (business-day effects are applied by the
# generator). Cards and direct debits are held longer than bank redirects.
AVAILABILITY_DAYS = {
    "ideal": 1,
    "bancontact": 1,
    "paypal": 1,
    "applepay": 2,
    "creditcard": 2,
    "directdebit": 3,
}


# Mollie settles Apple Pay as a credit-card payment: its settlement-method enum has no applepay.
_SETTLEMENT_METHOD = {"applepay": "creditcard"}


def settlement_method(payment_method: str) -> str:
    """The settlement-method a payment method is reported under in settlement periods."""
    return _SETTLEMENT_METHOD.get(payment_method, payment_method)


def cost_method(fee_key: str) -> str | None:
    """The settlement-method a fee line is reported under in settlement periods."""
    if fee_key.startswith("chargeback"):
        return "chargeback"
    if fee_key not in PAYMENT_PRICES:
        return None  # a fee of its own kind: no settlement method fits it
    return settlement_method(fee_key)
