"""The privacy detectors: card numbers (Luhn and a real network), IBANs (valid or mistyped), and
the patterns of e-mail addresses, pseudonyms and personal column names; the Python ones are
registered as DuckDB functions so a scan runs inside SQL (`register_functions`). Only a masked
card number ever leaves them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import duckdb
from schwifty import IBAN
from schwifty.exceptions import InvalidBBANChecksum, InvalidChecksumDigits, SchwiftyException

# A card number: 13-19 digits, optionally grouped by single spaces or dashes, standing on its
# own (not inside a longer number or an alphanumeric token such as a hex hash), passing Luhn,
# and starting like a real card network (ISO/IEC 7812 major industry 3-6, plus Mastercard's
# 2221-2720): bank references, hashes and timestamps rarely do all of that.
_CARD = re.compile(r"(?<![0-9A-Za-z])(?:\d[ -]?){12,18}\d(?![0-9A-Za-z])")
_CARD_PREFILTER = r"[0-9][0-9 -]{11,}[0-9]"  # RE2, so DuckDB skips most values itself
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
# Text shaped like an IBAN of a real country (length and BBAN structure right) whose check
# digits fail is a mistyped IBAN; anything else schwifty refuses is just not an IBAN (a PayPal
# reference, a VAT number).
_IBAN_TYPOS = (InvalidChecksumDigits, InvalidBBANChecksum)
_IBAN_PREFILTER = r"[A-Z]{2}[0-9]{2}"
EMAIL_REGEX = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
HASH_REGEX = r"^px_[0-9a-f]{32}$"  # transforms.build's pii_hash
# Column names that announce personal data; allowed past staging only as `<...>_hash`. A bare
# `name` or a person's name (customer_name, holder, ...) counts; names of things (check_name,
# table_name) do not.
PII_NAME_REGEX = (
    r"^name$|(customer|consumer|counterparty|beneficiary|payer|contact|first|last|full)_?name"
    r"|(^|_)(e_?mail|iban|holder|cardholder)(_|$)"
)
# Where clear PII may come from: the raw values pseudonymised in staging (customers, payment
# details, the bank lines' accounts). A value past staging equal to one of these is a leak
# that no regex would spot (a name is just text).
KNOWN_PII_SOURCES = (
    ("mollie", "customers", "name"),
    ("mollie", "customers", "email"),
    ("mollie", "payments", "details->>'consumerName'"),
    ("mollie", "payments", "details->>'consumerAccount'"),
    ("mollie", "payments", "details->>'cardHolder'"),
    ("mollie", "balances", "transfer_destination_bank_account"),
    ("bank", "statement_lines", "account_iban"),
    ("bank", "statement_lines", "counterparty_iban"),
)
KNOWN_PII_MIN_LENGTH = 6  # shorter values ("Jan", "NL") match ordinary text


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card_network(digits: str) -> bool:
    return digits[0] in "3456" or 2221 <= int(digits[:4]) <= 2720


def _card_matches(value: str) -> Iterator[tuple[str, str]]:
    """(text as written, digits) of every full card number in `value`."""
    for match in _CARD.finditer(value):
        digits = re.sub(r"[ -]", "", match.group())
        if 13 <= len(digits) <= 19 and _card_network(digits) and _luhn(digits):
            yield match.group(), digits


def card_numbers(value: str | None) -> list[str]:
    """Every full card number in `value`, digits only."""
    return [digits for _, digits in _card_matches(value or "")]


def mask_card(digits: str) -> str:
    """PCI DSS display masking: first six and last four digits at most."""
    return digits[:6] + "*" * (len(digits) - 10) + digits[-4:]


def mask_pii(value: str) -> str:
    """`value` with card numbers, e-mail addresses and IBANs masked, for anything shown to
    people (sample rows, messages). Past staging nothing should need it; raw and staging
    text (a payment description) might."""
    out = value
    for written, digits in _card_matches(value):
        out = out.replace(written, mask_card(digits))
    out = re.sub(EMAIL_REGEX, lambda m: m.group()[0] + "***@" + m.group().split("@")[1], out)
    return _IBAN.sub(lambda m: m.group()[:4] + "***" + m.group()[-4:], out)


def _first_masked_card(value: str | None) -> str | None:
    found = card_numbers(value)
    return mask_card(found[0]) if found else None


def _iban_state(value: str | None) -> str | None:
    """'valid' if `value` holds a valid IBAN, 'invalid' if only a mistyped one, else NULL."""
    if not value:
        return None
    state = None
    for match in _IBAN.finditer(value):
        try:
            IBAN(match.group().replace(" ", ""))
        except _IBAN_TYPOS:
            state = "invalid"
        except SchwiftyException:
            continue
        else:
            return "valid"
    return state


def register_functions(con: duckdb.DuckDBPyConnection) -> None:
    """The Python detectors as DuckDB functions on this connection (idempotent)."""
    for name, fn in (
        ("quality_masked_card", _first_masked_card),
        ("quality_iban_state", _iban_state),
    ):
        try:
            con.remove_function(name)
        except (duckdb.InvalidInputException, duckdb.CatalogException):
            pass
        con.create_function(
            name, fn, ["VARCHAR"], "VARCHAR", null_handling="special", side_effects=False
        )
