"""The Journal Entry payload: fields, rounding, balance, currency, exact JSON numbers."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from export.journal import JournalEntry, JournalLine
from export.payload import (
    MULTI_CURRENCY_REASON,
    POSTING_KEY_FIELD,
    PayloadError,
    UnbalancedEntryError,
    UnsupportedCurrencyError,
    build_payload,
    cents,
    encode_json,
    prepare,
)

D = Decimal


def line(no, role, account, debit="0.00", credit="0.00", cost_center=None, currency="EUR"):
    return JournalLine(no, role, account, currency, D(debit), D(credit), cost_center)


def entry(*lines, currency="EUR", voucher_type="Bank Entry", cheque_no="8572713.2609.14"):
    return JournalEntry(
        posting_key="mollie-settlement-stl_1",
        entry_type="settlement",
        source_id="stl_1",
        voucher_type=voucher_type,
        posting_date=date(2026, 9, 16),
        cheque_no=cheque_no,
        cheque_date=date(2026, 9, 16) if cheque_no else None,
        company="Vereniging Groene Vork",
        currency=currency,
        user_remark="Mollie payout 8572713.2609.14 (stl_1)",
        lines=lines,
    )


SETTLEMENT = entry(
    line(1, "bank", "Bank - VGV", debit="681.31"),
    line(2, "receipts", "Sales - VGV", credit="694.08", cost_center="Main - VGV"),
    line(3, "fees", "Payment Processing Fees - VGV", debit="12.77", cost_center="Main - VGV"),
)


def test_the_exact_document():
    assert build_payload(SETTLEMENT, company_currency="EUR") == {
        "voucher_type": "Bank Entry",
        "posting_date": "2026-09-16",
        "company": "Vereniging Groene Vork",
        "cheque_no": "8572713.2609.14",
        "cheque_date": "2026-09-16",
        "user_remark": "Mollie payout 8572713.2609.14 (stl_1)",
        POSTING_KEY_FIELD: "mollie-settlement-stl_1",
        "docstatus": 1,
        "accounts": [
            {
                "account": "Bank - VGV",
                "debit_in_account_currency": D("681.31"),
                "credit_in_account_currency": D("0.00"),
            },
            {
                "account": "Sales - VGV",
                "debit_in_account_currency": D("0.00"),
                "credit_in_account_currency": D("694.08"),
                "cost_center": "Main - VGV",
            },
            {
                "account": "Payment Processing Fees - VGV",
                "debit_in_account_currency": D("12.77"),
                "credit_in_account_currency": D("0.00"),
                "cost_center": "Main - VGV",
            },
        ],
    }


def test_json_numbers_are_exact_and_parse_as_numbers():
    body = prepare(SETTLEMENT, company_currency="EUR").body
    assert b'"debit_in_account_currency":681.31' in body
    assert b'"credit_in_account_currency":0.00' in body
    parsed = json.loads(body, parse_float=Decimal)
    assert parsed["accounts"][1]["credit_in_account_currency"] == D("694.08")
    assert json.loads(body)["docstatus"] == 1  # plain JSON, any parser reads it


def test_encode_refuses_float_and_normalises_negative_zero():
    with pytest.raises(TypeError):
        encode_json({"amount": 0.1})
    assert encode_json([D("-0.00"), D("1E+1"), "é"]) == '[0.00,10,"é"]'.encode()


@pytest.mark.parametrize(
    ("raw", "rounded"),
    [("0.005", "0.00"), ("0.015", "0.02"), ("2.675", "2.68"), ("-1.005", "-1.00")],
)
def test_cents_rounds_half_even(raw, rounded):
    assert str(cents(D(raw))) == rounded


def test_cents_refuses_float():
    with pytest.raises(TypeError):
        cents(0.1)  # type: ignore[arg-type]


def test_rounding_happens_before_the_balance_check():
    # 4-decimal amounts that balance before rounding but not after: refused, not "fixed".
    unbalanced = entry(
        line(1, "bank", "Bank - VGV", debit="10.005"),  # 10.00
        line(2, "fees", "Payment Processing Fees - VGV", debit="0.025"),  # 0.02
        line(3, "receipts", "Sales - VGV", credit="10.030"),  # 10.03
    )
    with pytest.raises(UnbalancedEntryError, match=r"difference -0\.01"):
        build_payload(unbalanced, company_currency="EUR")


def test_other_currency_goes_to_review_with_the_reason():
    gbp = entry(
        line(1, "bank", "Bank - VGV", debit="5.00", currency="GBP"),
        line(2, "receipts", "Sales - VGV", credit="5.00", currency="GBP"),
        currency="GBP",
    )
    with pytest.raises(UnsupportedCurrencyError) as err:
        build_payload(gbp, company_currency="EUR")
    assert str(err.value).startswith(MULTI_CURRENCY_REASON)
    assert err.value.kind == "unsupported_currency"


@pytest.mark.parametrize(
    "bad",
    [
        (
            line(1, "bank", "Bank - VGV", debit="5.00", credit="5.00"),
            line(2, "receipts", "Sales - VGV"),
        ),
        (line(1, "bank", None, debit="5.00"), line(2, "receipts", "Sales - VGV", credit="5.00")),
        (
            line(1, "bank", "Bank - VGV", debit="-5.00"),
            line(2, "receipts", "Sales - VGV", debit="5.00"),
        ),
        (line(1, "bank", "Bank - VGV", debit="5.00"),),
    ],
)
def test_malformed_entries_are_refused(bad):
    with pytest.raises(PayloadError):
        build_payload(entry(*bad), company_currency="EUR")


def test_journal_entry_without_reference_leaves_the_reference_out():
    plain = entry(
        line(1, "input_vat", "Input VAT - VGV", debit="5.62"),
        line(2, "fees", "Payment Processing Fees - VGV", credit="5.62", cost_center="Main - VGV"),
        voucher_type="Journal Entry",
        cheque_no=None,
    )
    doc = build_payload(plain, company_currency="EUR")
    assert "cheque_no" not in doc and "cheque_date" not in doc
    assert "cost_center" not in doc["accounts"][0]  # balance-sheet row


def test_hash_follows_the_bytes():
    a = prepare(SETTLEMENT, company_currency="EUR")
    assert a.sha256 == prepare(SETTLEMENT, company_currency="EUR").sha256
    changed = entry(
        line(1, "bank", "Bank - VGV", debit="1.00"),
        line(2, "receipts", "Sales - VGV", credit="1.00"),
    )
    assert prepare(changed, company_currency="EUR").sha256 != a.sha256


def test_a_party_goes_on_the_row_whose_role_names_one():
    debtors = entry(
        line(1, "clearing", "Mollie EUR - VGV", debit="10.00"),
        JournalLine(
            2,
            "receipts",
            "Debtors - VGV",
            "EUR",
            D("0.00"),
            D("10.00"),
            "Main - VGV",
            "Customer",
            "Webshop Customers",
        ),
        voucher_type="Journal Entry",
        cheque_no=None,
    )
    rows = build_payload(debtors, company_currency="EUR")["accounts"]
    assert "party_type" not in rows[0] and "party" not in rows[0]
    assert (rows[1]["party_type"], rows[1]["party"]) == ("Customer", "Webshop Customers")
