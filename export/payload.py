"""The exact Journal Entry document sent to Frappe for one entry (pure: no I/O).

Fields of ERPNext's Journal Entry (docs/accounting.md): `voucher_type`, `posting_date`,
`cheque_no` / `cheque_date` (the settlement's bank reference, so ERPNext's Bank Reconciliation
Tool matches the bank line), `company`, `user_remark`, the unique custom field
`mollie_posting_key` (idempotency), `docstatus: 1` (insert and submit in one request),
and `accounts` rows with `account`, `debit_in_account_currency`, `credit_in_account_currency`,
on profit-and-loss rows `cost_center`, and where the configuration names one (a Receivable or
Payable account) `party_type` and `party`. `naming_series` is left to the site's default.

Money rules: every amount is rounded once here to 2 decimals (ROUND_HALF_EVEN, ERPNext's own
rounding) and the entry must balance after rounding, or it is refused before anything is sent.
Amounts are written into the JSON text as plain decimal numbers (`938.13`) from the Decimal's
digits: no float ever holds them, and Frappe reads them as JSON numbers.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from export.journal import JournalEntry, JournalLine

DOCTYPE = "Journal Entry"
# The unique custom field on Journal Entry (fixtures/custom_field.json).
POSTING_KEY_FIELD = "mollie_posting_key"
CENT = Decimal("0.01")
MULTI_CURRENCY_REASON = "multi-currency posting needs exchange rates: not supported yet"


class PayloadError(ValueError):
    """The entry cannot be posted as it is; it waits in review with this message."""

    kind = "invalid_entry"


class UnsupportedCurrencyError(PayloadError):
    kind = "unsupported_currency"


class UnbalancedEntryError(PayloadError):
    kind = "unbalanced"


@dataclass(frozen=True)
class Payload:
    posting_key: str
    body: bytes  # the exact request body

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


def cents(amount: Decimal) -> Decimal:
    """Round to 2 decimals, half to even. Refuses float: a float here would be a money bug."""
    if not isinstance(amount, Decimal):
        raise TypeError(f"amounts must be Decimal, got {type(amount).__name__}")
    if not amount.is_finite():
        raise PayloadError(f"amount {amount} is not a number")
    return amount.quantize(CENT, rounding=ROUND_HALF_EVEN)


def build_payload(entry: JournalEntry, *, company_currency: str) -> dict[str, Any]:
    """The Journal Entry document for `entry`; raises PayloadError if it must not be sent."""
    foreign = sorted(
        {entry.currency, *(line.currency for line in entry.lines)} - {company_currency}
    )
    if foreign:
        # ERPNext books foreign-currency rows only with multi_currency and an exchange rate per
        # row; the models do not carry rates yet, so posting a guess would misstate the books.
        raise UnsupportedCurrencyError(
            f"{MULTI_CURRENCY_REASON} (entry in {', '.join(foreign)}, company currency "
            f"{company_currency})"
        )
    if len(entry.lines) < 2:
        raise PayloadError(f"{entry.posting_key} has {len(entry.lines)} line(s); needs 2 or more")
    rows = [_row(entry, line) for line in entry.lines]
    debit = sum((r["debit_in_account_currency"] for r in rows), Decimal(0))
    credit = sum((r["credit_in_account_currency"] for r in rows), Decimal(0))
    if debit != credit:
        raise UnbalancedEntryError(
            f"{entry.posting_key} does not balance after rounding: debit {debit}, credit "
            f"{credit} (difference {debit - credit})"
        )
    doc: dict[str, Any] = {
        "voucher_type": entry.voucher_type,
        "posting_date": entry.posting_date.isoformat(),
        "company": entry.company,
    }
    if entry.cheque_no is not None:
        doc["cheque_no"] = entry.cheque_no
    if entry.cheque_date is not None:
        doc["cheque_date"] = entry.cheque_date.isoformat()
    if entry.user_remark:
        doc["user_remark"] = entry.user_remark
    doc[POSTING_KEY_FIELD] = entry.posting_key
    doc["docstatus"] = 1
    doc["accounts"] = rows
    return doc


def _row(entry: JournalEntry, line: JournalLine) -> dict[str, Any]:
    where = f"{entry.posting_key} line {line.line_no} ({line.role})"
    if not line.account:
        raise PayloadError(f"{where} has no account: set it under [books.accounts]")
    debit, credit = cents(line.debit), cents(line.credit)
    if debit < 0 or credit < 0:
        raise PayloadError(f"{where} has a negative amount (debit {debit}, credit {credit})")
    if (debit == 0) == (credit == 0):
        raise PayloadError(f"{where} needs exactly one of debit and credit (got {debit}, {credit})")
    row: dict[str, Any] = {
        "account": line.account,
        "debit_in_account_currency": debit,
        "credit_in_account_currency": credit,
    }
    if line.cost_center:
        row["cost_center"] = line.cost_center
    if line.party_type and line.party:
        row["party_type"] = line.party_type
        row["party"] = line.party
    return row


def encode_json(value: Any) -> bytes:
    """Compact UTF-8 JSON in which Decimals appear as plain JSON numbers with their digits."""
    return _encode(value).encode("utf-8")


def _encode(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{_encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_encode(v) for v in value) + "]"
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} has no JSON spelling")
        return format(value + 0, "f")  # + 0 turns -0.00 into 0.00
    if isinstance(value, float):
        raise TypeError("float in a payload: amounts must be Decimal")
    return json.dumps(value, ensure_ascii=False)


def prepare(entry: JournalEntry, *, company_currency: str) -> Payload:
    """Build and encode: the bytes that are hashed, recorded, and sent."""
    doc = build_payload(entry, company_currency=company_currency)
    return Payload(entry.posting_key, encode_json(doc))
