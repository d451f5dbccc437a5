"""The sandbox's world: compact records for every Mollie object it serves.

Records hold the *whole lifecycle* of an object (when it was created, when it became paid,
refunded, reversed, …) as epoch seconds (UTC) and exact integer money units (see `money.py`).
What the API shows at a given `now` (status, amountRefunded, settlementId, …) is derived from these
timestamps when a response is rendered, so the same world answers consistently for any `now`.
`__slots__` keep a million payments within a few hundred MB.
"""

from __future__ import annotations

from dataclasses import dataclass, field

NEVER = 2**62  # a lifecycle moment that has not happened (and will not, within this world)


@dataclass(slots=True)
class Organization:
    id: str
    name: str
    email: str
    locale: str
    street: str
    postal_code: str
    city: str
    country: str
    registration_number: str
    vat_number: str
    merchant_number: str  # the digits that prefix settlement bank references
    created_at: int


@dataclass(slots=True)
class Profile:
    id: str
    name: str
    website: str
    email: str
    phone: str
    business_category: str
    created_at: int


@dataclass(slots=True)
class Balance:
    id: str
    currency: str
    created_at: int
    transfer_frequency: str  # "daily" | "every-monday" | …
    transfer_threshold: int  # units
    transfer_reference: str
    iban: str
    beneficiary: str
    bank_account_id: str


@dataclass(slots=True)
class Customer:
    id: str
    created_at: int
    name: str
    email: str
    locale: str
    iban: str  # the account its iDEAL / direct debit payments come from
    profile_id: str


@dataclass(slots=True)
class Subscription:
    id: str
    customer_id: str
    profile_id: str
    mandate_id: str
    created_at: int
    start_date: int  # epoch of the first charge day (00:00 Europe/Amsterdam)
    amount: int
    currency: str
    interval_months: int  # 1, 3 or 12
    times: int | None  # None = indefinite
    method: str
    description: str
    canceled_at: int = NEVER
    suspended_at: int = NEVER
    charges: list[str] = field(default_factory=list)  # payment ids, oldest first

    @property
    def interval(self) -> str:
        return "1 month" if self.interval_months == 1 else f"{self.interval_months} months"


@dataclass(slots=True)
class Payment:
    id: str
    profile_id: str
    balance_id: str
    created_at: int
    amount: int
    currency: str
    method: str
    description: str
    final_status: str  # paid | failed | expired | canceled | open (stays open)
    final_at: int  # when final_status is reached (NEVER for "open")
    sequence_type: str = "oneoff"
    customer_id: str | None = None
    subscription_id: str | None = None
    mandate_id: str | None = None
    capture_mode: str | None = None  # "manual" for authorise-then-capture card payments
    authorized_at: int = NEVER  # manual capture only
    consumer_name: str | None = None
    consumer_account: str | None = None  # IBAN (ideal, directdebit, bancontact)
    card_label: str | None = None
    card_number: str | None = None  # last four digits only: Mollie never exposes more
    country_code: str = "NL"
    fee_net: int = 0  # units, 4 decimals (fixed + percentage of the amount)
    fee_gross: int = 0  # units rounded to cents: the VAT-inclusive deduction on the ledger
    available_at: int = NEVER  # when its ledger row moves from pending to available
    refunds: list[str] = field(default_factory=list)
    chargebacks: list[str] = field(default_factory=list)
    captures: list[str] = field(default_factory=list)
    transaction_id: str | None = None  # its ledger row (payment or capture)
    # A credited direct debit the debtor's bank returned (`failed-payment`): failed from then.
    debit_failed_at: int = NEVER

    @property
    def paid_at(self) -> int:
        return self.final_at if self.final_status == "paid" else NEVER


@dataclass(slots=True)
class Capture:
    id: str
    payment_id: str
    created_at: int
    amount: int
    currency: str
    transaction_id: str | None = None


@dataclass(slots=True)
class Refund:
    id: str
    payment_id: str
    created_at: int
    amount: int
    currency: str
    description: str
    processed_at: int  # queued/pending until then, "refunded" after
    fee_net: int = 0
    fee_gross: int = 0
    transaction_id: str | None = None
    returned_at: int = NEVER  # the customer's bank sent it back (`returned-refund`): "failed"


@dataclass(slots=True)
class Chargeback:
    id: str
    payment_id: str
    created_at: int
    amount: int
    currency: str
    reason_code: str | None
    reason_description: str | None
    reversed_at: int = NEVER
    fee_net: int = 0
    fee_gross: int = 0
    transaction_id: str | None = None
    reversal_transaction_id: str | None = None


@dataclass(slots=True)
class BalanceTransaction:
    """One immutable ledger line. resultAmount = initialAmount + deductions, always."""

    id: str
    balance_id: str
    currency: str
    type: str
    created_at: int
    available_at: int  # == created_at for rows that are immediately available
    initial: int
    deductions: int  # units, <= 0, all deductions; 0 is rendered as null where Mollie sends none
    context: dict[str, str]
    method: str | None = None  # payment method behind the row, for reports and periods
    fee_key: str | None = None  # which price-list line its deduction belongs to
    fee_net: int = 0  # the deduction's net (excl. VAT) part, 4 decimals
    settlement_id: str | None = None  # the settlement that swept it (never set on payouts)
    seq: int = 0  # creation order, breaks ties between rows created in the same second
    # The parts of `deductions` that are not Mollie's fees (deductionDetails), each <= 0.
    reservations: int = 0  # rolling reserve withheld
    repayments: int = 0  # Mollie Capital repayment withheld
    commissions: int = 0  # commissions (application fees) withheld

    @property
    def result(self) -> int:
        return self.initial + self.deductions

    @property
    def fees(self) -> int:
        """deductionDetails.fees: what is left of `deductions` after the other parts (<= 0)."""
        return self.deductions - self.reservations - self.repayments - self.commissions

    def withhold(self, part: str, value: int) -> None:
        """Withhold `value` (> 0 units) more as reservation / repayment / commission."""
        setattr(self, part, getattr(self, part) - value)
        self.deductions -= value

    @property
    def via_pending(self) -> bool:
        return self.available_at > self.created_at


@dataclass(slots=True)
class PeriodLine:
    year: int
    month: int
    kind: str  # "revenue" | "cost"
    description: str
    method: str | None
    count: int
    net: int  # units, 4 decimals
    vat: int | None
    gross: int
    rate_fixed: int | None = None
    rate_percentage: str | None = None


@dataclass(slots=True)
class Settlement:
    id: str
    reference: str
    balance_id: str
    currency: str
    created_at: int  # the payout moment
    paidout_at: int  # when the bank transfer completed (status pending before)
    amount: int
    transaction_ids: list[str]  # the ledger rows it swept, in ledger order
    transfer_transaction_id: str  # its outgoing-transfer row
    transfer_id: str
    periods: list[PeriodLine] = field(default_factory=list)
    payment_ids: list[str] = field(default_factory=list)
    refund_ids: list[str] = field(default_factory=list)
    chargeback_ids: list[str] = field(default_factory=list)
    capture_ids: list[str] = field(default_factory=list)
    bank_booking_date: int = NEVER  # the day the deposit lands on the merchant's bank account
    failed_at: int = NEVER  # the payout was returned by the bank or canceled (status failed)


@dataclass(slots=True)
class InvoiceLine:
    period: str  # YYYY-MM
    description: str
    count: int
    vat_percentage: int
    amount: int  # units, cents, excl. VAT


@dataclass(slots=True)
class Invoice:
    id: str
    reference: str
    currency: str
    balance_id: str
    year: int
    month: int  # the fee month it invoices
    issued_at: int  # epoch (a date: 00:00 Europe/Amsterdam of the 1st of the next month)
    paid_at: int
    due_at: int
    lines: list[InvoiceLine]
    net: int
    vat: int
    gross: int
    vat_number: str
    compensation: int  # what the invoice-rounding-compensation row gives back (+) or takes (−)
    compensation_transaction_id: str | None = None
    collected: int = 0  # the not-prepaid part, taken from the balance by invoice-compensation
    collection_transaction_id: str | None = None
