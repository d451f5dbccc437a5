"""The Frappe stand-in refuses what ERPNext 15 refuses, in Frappe's error shape (exc_type,
_server_messages, HTTP status): each validation the exporter relies on, one case each."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import pytest
from frappe_standin import (  # noqa: F401 (fresh, http, server: pytest fixtures)
    VGV,
    entry,
    fresh,
    http,
    post,
    server,
    server_messages,
)

from sandbox.frappe import (
    Chart,
    Company,
    FrappeTestServer,
)

# -- validations ------------------------------------------------------------------------------


def _rows(*rows: dict[str, Any]) -> dict[str, Any]:
    return {"accounts": list(rows)}


def _drop(field: str):
    def mutate(doc: dict[str, Any]) -> None:
        doc.pop(field)

    return mutate


def _set(**values: Any):
    def mutate(doc: dict[str, Any]) -> None:
        doc.update(values)

    return mutate


def _row(i: int, **values: Any):
    def mutate(doc: dict[str, Any]) -> None:
        doc["accounts"][i].update(values)

    return mutate


def _row_drop(i: int, field: str):
    def mutate(doc: dict[str, Any]) -> None:
        doc["accounts"][i].pop(field)

    return mutate


FEES, SALES = 1, 2
CASES = [
    (
        "missing posting_date",
        _drop("posting_date"),
        "MandatoryError",
        "Error: Value missing for Journal Entry: Posting Date",
    ),
    (
        "missing company",
        _drop("company"),
        "MandatoryError",
        "Error: Value missing for Journal Entry: Company",
    ),
    ("no rows", _set(accounts=[]), "ValidationError", "Accounts table cannot be blank"),
    (
        "row without account",
        _row_drop(0, "account"),
        "MandatoryError",
        "Row #1: Value missing for: Account",
    ),
    (
        "debit and credit on one row",
        _row(0, credit_in_account_currency="1.00"),
        "ValidationError",
        "You cannot credit and debit same account at the same time",
    ),
    (
        "row with neither",
        _row(FEES, debit_in_account_currency="0"),
        "ValidationError",
        "Row 2: Both Debit and Credit values cannot be zero",
    ),
    (
        "negative amount",
        _row(FEES, debit_in_account_currency="-4.50"),
        "ValidationError",
        "Row #2: Debit cannot be negative",
    ),
    (
        "three decimals",
        _row(FEES, debit_in_account_currency="4.505"),
        "ValidationError",
        "Row #2: Debit 4.505 has more than 2 decimals",
    ),
    (
        "not a number",
        _row(FEES, debit_in_account_currency="4,50"),
        "ValidationError",
        "Row #2: Debit: '4,50' is not a number",
    ),
    (
        "unbalanced by a cent",  # ERPNext subtracts float totals: 100.01 - 100.0, unrounded
        _row(FEES, debit_in_account_currency="4.51"),
        "ValidationError",
        "Total Debit must be equal to Total Credit. The difference is 0.010000000000005116",
    ),
    (
        "unknown account",
        _row(0, account="Nope - VGV"),
        "LinkValidationError",
        "Could not find Row #1: Account: Nope - VGV",
    ),
    (
        "unknown company",
        _set(company="Nope B.V."),
        "LinkValidationError",
        "Could not find Company: Nope B.V.",
    ),
    (
        "unknown cost centre",
        _row(SALES, cost_center="Nope - VGV"),
        "LinkValidationError",
        "Could not find Row #3: Cost Center: Nope - VGV",
    ),
    (
        "master the stand-in does not keep",
        _row(0, project="PROJ-0001"),
        "LinkValidationError",
        "Could not find Row #1: Project: PROJ-0001",
    ),
    (
        "group account",
        _row(0, account="Bank Accounts - VGV"),
        "ValidationError",
        "Account Bank Accounts - VGV is a Group Account and group accounts cannot be used",
    ),
    (
        "other company's account",
        _row(0, account="Bank - GVE"),
        "ValidationError",
        "Account Bank - GVE does not belong to Company Vereniging Groene Vork",
    ),
    (
        "P&L row with an empty cost centre",  # "" is a value: the company default is not used
        _row(SALES, cost_center=""),
        "ValidationError",
        "Cost Center is required for 'Profit and Loss' account Sales - VGV",
    ),
    (
        "posting date outside every fiscal year",
        _set(posting_date="2031-01-02", cheque_date="2031-01-02"),
        "FiscalYearError",
        f"Date 02-01-2031 is not in any active Fiscal Year for <strong>{VGV}</strong>",
    ),
    (
        "payable without party",
        _row(0, account="Creditors - VGV"),
        "ValidationError",
        "Row 1: Party Type and Party is required for Receivable / Payable account Creditors - VGV",
    ),
    (
        "other company's cost centre",
        _row(SALES, cost_center="Main - GVE"),
        "ValidationError",
        "Cost Center Main - GVE does not belong to Company Vereniging Groene Vork",
    ),
    (
        "group cost centre",
        _row(SALES, cost_center="Vereniging Groene Vork - VGV"),
        "ValidationError",
        "is a group cost center and group cost centers cannot be used",
    ),
    (
        "Bank Entry without reference number",
        _drop("cheque_no"),
        "ValidationError",
        "Reference No & Reference Date is required for Bank Entry",
    ),
    (
        "reference number without date",
        _drop("cheque_date"),
        "MandatoryError",
        "Please enter Reference date",
    ),
    (
        "reference date without number",
        _set(voucher_type="Journal Entry", cheque_no=None),
        "ValidationError",
        "Reference No is mandatory if you entered Reference Date",
    ),
    (
        "unknown voucher type",
        _set(voucher_type="Payout Entry"),
        "ValidationError",
        'Entry Type cannot be "Payout Entry". It should be one of "Journal Entry"',
    ),
    (
        "foreign currency without multi currency",
        _row(0, account="Mollie GBP - VGV"),
        "ValidationError",
        "Please check Multi Currency option to allow accounts with other",
    ),
    (
        "foreign currency without rate",
        _set(
            multi_currency=1,
            accounts=[
                {"account": "Mollie GBP - VGV", "debit_in_account_currency": "10.00"},
                {"account": "Bank - VGV", "credit_in_account_currency": "11.70"},
            ],
        ),
        "ValidationError",
        "Row 1: Exchange Rate is mandatory",
    ),
    (
        "receivable without party",
        _row(0, account="Debtors - VGV"),
        "ValidationError",
        "Row 1: Party Type and Party is required for Receivable / Payable account Debtors - VGV",
    ),
    (
        "receivable with a supplier",
        _row(0, account="Debtors - VGV", party_type="Supplier", party="Mollie B.V."),
        "ValidationError",
        "Account Debtors - VGV and Party Type Supplier have different",
    ),
    (
        "disabled account",
        _row(0, account="Old Mollie Clearing - VGV"),
        "ValidationError",
        "Cannot create accounting entries against disabled accounts: "
        "<strong>Old Mollie Clearing - VGV</strong>",
    ),
    (
        "unknown header field",
        _set(posting_key="x"),
        "ValidationError",
        "Journal Entry has no field 'posting_key'",
    ),
    (
        "unknown row field",
        _row(0, debit_amount="95.50"),
        "ValidationError",
        "Row #1: Journal Entry Account has no field 'debit_amount'",
    ),
    (
        "bad date",
        _set(posting_date="02-03-2026"),
        "ValidationError",
        "<strong>02-03-2026</strong> is not a valid date string.",
    ),
    (
        "reference number too long",
        _set(cheque_no="x" * 141),
        "CharacterLengthExceededError",
        "will get truncated, as max characters allowed is 140",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "exc_type", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_each_validation_answers_417_in_frappes_shape(server, http, mutate, exc_type, message):
    doc = entry()
    mutate(doc)
    r = post(http, doc)
    assert r.status_code == 417, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["exc_type"] == exc_type
    assert body["exception"].split(": ", 1)[0].endswith(f".{exc_type}")
    texts = [m["message"] for m in server_messages(r)]
    assert any(message in t for t in texts), texts
    assert server.journal_entries == {}  # the transaction rolled back


def test_mandatory_error_lists_every_missing_field(http):
    r = post(http, entry(posting_date=None, company=None))
    assert r.status_code == 417 and r.json()["exc_type"] == "MandatoryError"
    assert [m["message"] for m in server_messages(r)] == [
        "Error: Value missing for Journal Entry: Posting Date",
        "Error: Value missing for Journal Entry: Company",
    ]
    # Without a posting date the series year is today's.
    assert r.json()["exception"] == (
        "frappe.exceptions.MandatoryError: [Journal Entry, "
        f"ACC-JV-{date.today().year}-00001]: posting_date, company"
    )


def test_thrown_messages_carry_frappes_keys(http):
    r = post(http, entry(accounts=entry()["accounts"][:2]))  # unbalanced
    (msg,) = server_messages(r)
    # ERPNext formats the float difference into the text: 100.0, not 100.00
    assert msg["message"] == "Total Debit must be equal to Total Credit. The difference is 100.0"
    assert msg["title"] == "Message" and msg["indicator"] == "red"
    assert msg["raise_exception"] == 1 and msg["__frappe_exc_id"]
    assert r.json()["_exc_source"] == "erpnext (app)"


def test_failed_inserts_do_not_use_upnames(http):
    assert post(http, entry(company="Nope")).status_code == 417
    assert post(http, entry()).json()["data"]["name"] == "ACC-JV-2026-00001"


def test_docstatus_2_on_insert_is_a_transition_error_without_messages(http):
    r = post(http, entry(docstatus=2))
    assert r.status_code == 417
    body = r.json()
    assert body["exc_type"] == "DocstatusTransitionError"
    assert "_server_messages" not in body  # Frappe raises it without a message log entry
    assert "Cannot change docstatus from 0 (Draft) to 2 (Cancelled)" in body["exception"]


def test_closed_accounting_period(http):
    chart = Chart.default()
    closed = Chart(
        {**chart.companies, VGV: Company(VGV, "VGV", books_closed_until=date(2026, 3, 31))},
        chart.accounts,
        chart.cost_centers,
        chart.parties,
    )
    with (
        FrappeTestServer(closed) as s,
        httpx.Client(base_url=s.url, headers={"Authorization": s.auth_header}) as client,
    ):
        r = post(client, entry())
        assert r.status_code == 417
        assert r.json()["exc_type"] == "ClosedAccountingPeriod"
        assert "closed Accounting Period" in server_messages(r)[0]["message"]
        assert (
            post(
                client, entry("k2", posting_date="2026-04-01", cheque_date="2026-04-01")
            ).status_code
            == 200
        )


def test_company_default_cost_centre_fills_missing_rows(http):
    assert Chart.default().companies[VGV].cost_center == "Main - VGV"  # as ERPNext's setup
    doc = entry()
    for row in doc["accounts"]:
        row.pop("cost_center", None)
    r = post(http, doc)
    assert r.status_code == 200, r.text
    assert {row["cost_center"] for row in r.json()["data"]["accounts"]} == {"Main - VGV"}


def test_without_a_company_default_a_pl_row_needs_its_cost_centre():
    chart = Chart.default()
    no_default = Chart(
        {**chart.companies, VGV: Company(VGV, "VGV", cost_center=None)},
        chart.accounts,
        chart.cost_centers,
        chart.parties,
    )
    with (
        FrappeTestServer(no_default) as s,
        httpx.Client(base_url=s.url, headers={"Authorization": s.auth_header}) as client,
    ):
        doc = entry()
        doc["accounts"][2].pop("cost_center")
        r = post(client, doc)
        assert r.status_code == 417 and r.json()["exc_type"] == "ValidationError"
        (msg,) = server_messages(r)
        assert msg["title"] == "Missing Cost Center"
        assert msg["message"].endswith(
            "Cost Center is required for 'Profit and Loss' account Sales - VGV. Please set the "
            "cost center field in Journal Entry or setup a default Cost Center for the Company."
        )
        assert s.journal_entries == {}


def test_receivable_with_its_party_posts(http):
    doc = entry()
    doc["accounts"][2] = {
        "account": "Debtors - VGV",
        "party_type": "Customer",
        "party": "Webshop Customers",
        "credit_in_account_currency": "100.00",
    }
    r = post(http, doc)
    assert r.status_code == 200, r.text


def test_the_unbalanced_message_carries_erpnexts_float_difference(http):
    doc = entry()
    doc["accounts"][0]["debit_in_account_currency"] = "95.60"  # 100.10 against 100.00
    r = post(http, doc)
    assert r.status_code == 417 and r.json()["exc_type"] == "ValidationError"
    (msg,) = server_messages(r)
    assert msg["message"] == (
        f"Total Debit must be equal to Total Credit. The difference is {100.1 - 100.0}"
    )
    assert msg["message"].endswith("0.09999999999999432")  # not rounded to 0.1


def test_a_posting_date_outside_every_fiscal_year_is_a_fiscal_year_error():
    chart = Chart.default()
    years = Chart.from_dict(
        {
            "accounts": {"Kas - VGV": {"company": VGV, "root_type": "Asset"}},
            "fiscal_years": {
                "2026": {"year_start_date": "2026-01-01", "year_end_date": "2026-12-31"},
                "2027 GVE": {
                    "year_start_date": "2027-01-01",
                    "year_end_date": "2027-12-31",
                    "companies": ["Groene Vork Events B.V."],  # not VGV's
                },
            },
        }
    ).fiscal_years
    only_2026 = Chart(chart.companies, chart.accounts, chart.cost_centers, chart.parties, years)
    with (
        FrappeTestServer(only_2026) as s,
        httpx.Client(base_url=s.url, headers={"Authorization": s.auth_header}) as client,
    ):
        assert post(client, entry("k1", posting_date="2026-12-31")).status_code == 200
        r = post(client, entry("k2", posting_date="2027-01-04", cheque_date="2027-01-04"))
        assert r.status_code == 417
        body = r.json()
        assert body["exc_type"] == "FiscalYearError"
        text = f"Date 04-01-2027 is not in any active Fiscal Year for <strong>{VGV}</strong>"
        assert body["exception"] == f"erpnext.accounts.utils.FiscalYearError: {text}"
        assert body["_exc_source"] == "erpnext (app)"
        (msg,) = server_messages(r)  # msgprint, not throw: no red indicator
        assert msg == {"message": text, "title": "Message"}
        assert [d["mollie_posting_key"] for d in s.journal_entries.values()] == ["k1"]
        # A draft has no GL entries yet: ERPNext checks the fiscal year when it submits.
        draft = post(client, entry("k3", posting_date="2027-01-04", docstatus=0))
        assert draft.status_code == 200, draft.text
