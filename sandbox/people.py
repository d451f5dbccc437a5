"""Realistic personal data for sandbox customers: names, emails, valid IBANs, reason codes.

The pipeline must pseudonymise real PII, so the sandbox hands it data that looks real: IBANs pass
the ISO 13616 mod-97 check, emails are well formed. All of it is invented.
"""

from __future__ import annotations

import random

FIRST_NAMES = (
    "Anna Bram Chloë Daan Emma Finn Gijs Hanna Isa Jesse Julia Lars Lotte Milan Noa Olivier "
    "Pieter Roos Sanne Sem Tess Thijs Vera Wouter Yara Zoë Liam Sophie Mohammed Fatima Lucas "
    "Mila Noah Eva Luuk Sara Jan Femke Ruben Iris"
).split()
LAST_NAMES = (
    "de Jong|Jansen|de Vries|van den Berg|van Dijk|Bakker|Janssen|Visser|Smit|Meijer|de Boer|"
    "Mulder|de Groot|Bos|Vos|Peters|Hendriks|van Leeuwen|Dekker|Brouwer|de Wit|Dijkstra|Smits|"
    "de Graaf|van der Meer|Kok|Jacobs|Vermeulen|van den Heuvel|Willems|El Amrani|Yilmaz"
).split("|")
EMAIL_DOMAINS = ("example.nl", "example.com", "mail.example.org", "posteo.example")
LOCALES = ("nl_NL", "nl_NL", "nl_NL", "en_US", "de_DE", "nl_BE", "fr_BE")
# Dutch bank codes used in NL IBANs.
NL_BANKS = ("ABNA", "INGB", "RABO", "SNSB", "TRIO", "ASNB", "KNAB", "BUNQ")
BICS = {
    "ABNA": "ABNANL2A",
    "INGB": "INGBNL2A",
    "RABO": "RABONL2U",
    "SNSB": "SNSBNL2A",
    "TRIO": "TRIONL2U",
    "ASNB": "ASNBNL21",
    "KNAB": "KNABNL2H",
    "BUNQ": "BUNQNL2A",
}

# Real chargeback reason codes: SEPA (ISO 20022 return reasons) and card schemes.
SEPA_REASONS = (
    ("AC01", "Account identifier incorrect"),
    ("AC04", "Account closed"),
    ("AC06", "Account blocked"),
    ("AM04", "Insufficient funds"),
    ("MD01", "No valid mandate"),
    ("MD06", "Refund request by end customer"),
    ("MS02", "Refusal by the debtor"),
)
# Why a bank does not honour a direct debit (shown as details.bankReasonCode on a failed
# payment); MD01 and MD06 are reversals the debtor asks for, which Mollie books as chargebacks.
DEBIT_FAILURE_REASONS = tuple(r for r in SEPA_REASONS if r[0] not in ("MD01", "MD06"))
CARD_REASONS = (
    ("10.4", "Other fraud: card-absent environment"),
    ("13.1", "Merchandise/services not received"),
    ("13.3", "Not as described or defective merchandise"),
    ("4837", "No cardholder authorization"),
    ("4853", "Cardholder dispute"),
)
PAYPAL_REASONS = (("PP-UNAUTH", "Unauthorized transaction"), ("PP-INR", "Item not received"))


def iban_check_digits(country: str, bban: str) -> str:
    """ISO 13616 check digits for a BBAN."""
    digits = "".join(str(int(c, 36)) for c in bban + country + "00")
    return f"{98 - int(digits) % 97:02d}"


def make_iban(rng: random.Random) -> tuple[str, str]:
    """A valid Dutch IBAN and its bank's BIC."""
    bank = rng.choice(NL_BANKS)
    bban = bank + "".join(str(rng.randrange(10)) for _ in range(10))
    return f"NL{iban_check_digits('NL', bban)}{bban}", BICS[bank]


def make_person(rng: random.Random) -> tuple[str, str, str]:
    """A name, an email derived from it, and a locale."""
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    local = f"{first}.{last}".lower().replace(" ", "").replace("ë", "e").replace("ö", "o")
    email = f"{local}{rng.randrange(1, 999)}@{rng.choice(EMAIL_DOMAINS)}"
    return f"{first} {last}", email, rng.choice(LOCALES)
