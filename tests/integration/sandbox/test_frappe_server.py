"""The Frappe test stand-in speaks Frappe's v1 REST contract and ERPNext's Journal Entry rules,
over real HTTP (sandbox/FRAPPE.md). It is not Frappe: these tests pin what it imitates."""

from __future__ import annotations

import base64
import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.frappe import (
    DEFAULT_USER,
    JOURNAL_ENTRY_ACCOUNT_FIELDS,
    JOURNAL_ENTRY_FIELDS,
    MANDATORY_FIELDS,
    MANDATORY_ROW_FIELDS,
    POSTING_KEY_FIELD,
    Account,
    Chart,
    Company,
    FrappeTestServer,
)

# ERPNext 15's Journal Entry doctypes (field names, types, flags), with their source inside.
DOCTYPES = (
    Path(__file__).resolve().parents[2] / "fixtures" / "erpnext" / "journal_entry_doctypes.json"
)
JE_URL = "/api/resource/Journal Entry"
VGV = "Vereniging Groene Vork"


def entry(key: str = "mollie-settlement-stl_1", **header: Any) -> dict[str, Any]:
    """A valid settlement entry: payout 95.50 + fees 4.50 = receipts 100.00."""
    doc: dict[str, Any] = {
        "voucher_type": "Bank Entry",
        "posting_date": "2026-03-02",
        "company": VGV,
        "cheque_no": "1234567.2603.01",
        "cheque_date": "2026-03-02",
        "user_remark": "Mollie payout 1234567.2603.01",
        POSTING_KEY_FIELD: key,
        "docstatus": 1,
        "accounts": [
            {"account": "Bank - VGV", "debit_in_account_currency": "95.50"},
            {
                "account": "Payment Processing Fees - VGV",
                "debit_in_account_currency": "4.50",
                "cost_center": "Main - VGV",
            },
            {
                "account": "Sales - VGV",
                "credit_in_account_currency": "100.00",
                "cost_center": "Main - VGV",
            },
        ],
    }
    doc.update(header)
    return doc


def server_messages(response: httpx.Response) -> list[dict[str, Any]]:
    """Decode `_server_messages` twice, as a Frappe client must."""
    return [json.loads(m) for m in json.loads(response.json()["_server_messages"])]


@pytest.fixture(scope="module")
def server():
    with FrappeTestServer() as s:
        yield s


@pytest.fixture(autouse=True)
def fresh(server: FrappeTestServer):
    server.reset()
    yield


@pytest.fixture
def http(server: FrappeTestServer):
    with httpx.Client(
        base_url=server.url, headers={"Authorization": server.auth_header}, timeout=10
    ) as client:
        yield client


def post(http: httpx.Client, doc: dict[str, Any]) -> httpx.Response:
    return http.post(JE_URL, json=doc)


def by_key(http: httpx.Client, key: str) -> list[dict[str, Any]]:
    r = http.get(
        JE_URL,
        params={
            "filters": json.dumps([[POSTING_KEY_FIELD, "=", key]]),
            "fields": json.dumps(["name", "docstatus"]),
        },
    )
    assert r.status_code == 200
    return r.json()["data"]


# -- the happy path ---------------------------------------------------------------------------


def test_balanced_bank_entry_is_inserted_submitted_and_readable(server, http):
    r = post(http, entry())
    assert r.status_code == 200, r.text
    doc = r.json()["data"]
    assert doc["name"] == "ACC-JV-2026-00001"
    assert doc["docstatus"] == 1 and doc["doctype"] == "Journal Entry"
    assert (doc["total_debit"], doc["total_credit"], doc["difference"]) == (100.0, 100.0, 0.0)
    assert doc["remark"] == (
        "Note: Mollie payout 1234567.2603.01\nReference #1234567.2603.01 dated 02-03-2026"
    )
    assert doc["owner"] == DEFAULT_USER and doc["naming_series"] == "ACC-JV-.YYYY.-"
    rows = doc["accounts"]
    assert [r["idx"] for r in rows] == [1, 2, 3]
    assert {r["parent"] for r in rows} == {doc["name"]}
    assert rows[0]["account_type"] == "Bank" and rows[0]["account_currency"] == "EUR"
    assert rows[0]["debit"] == 95.5 and rows[2]["credit"] == 100.0
    assert rows[2]["against_account"] == "Bank - VGV, Payment Processing Fees - VGV"

    got = http.get(f"{JE_URL}/{doc['name']}")
    assert got.status_code == 200 and got.json()["data"] == doc
    assert by_key(http, "mollie-settlement-stl_1") == [{"name": doc["name"], "docstatus": 1}]

    stored = server.journal_entries[doc["name"]]
    assert stored["total_debit"] == Decimal("100.00")  # exact inside, floats only on the wire
    assert stored["accounts"][1]["debit_in_account_currency"] == Decimal("4.50")


def test_data_json_string_body_and_v1_alias(server, http):
    r = http.post("/api/v1/resource/Journal Entry", json={"data": json.dumps(entry())})
    assert r.status_code == 200, r.text
    r2 = http.post(JE_URL, data={"data": json.dumps(entry("k2"))})  # form-encoded
    assert r2.status_code == 200, r2.text
    assert list(server.journal_entries) == ["ACC-JV-2026-00001", "ACC-JV-2026-00002"]


def test_foreign_currency_row_with_multi_currency_and_rate(http):
    doc = entry(
        multi_currency=1,
        accounts=[
            {"account": "Bank - VGV", "debit_in_account_currency": "117.00"},
            {
                "account": "Mollie GBP - VGV",
                "credit_in_account_currency": "100.00",
                "exchange_rate": "1.17",
            },
        ],
    )
    r = post(http, doc)
    assert r.status_code == 200, r.text
    gbp = r.json()["data"]["accounts"][1]
    assert (gbp["account_currency"], gbp["credit_in_account_currency"], gbp["credit"]) == (
        "GBP",
        100.0,
        117.0,
    )


def test_receivable_row_with_party(http):
    doc = entry(
        accounts=[
            {"account": "Bank - VGV", "debit_in_account_currency": "10.00"},
            {
                "account": "Debtors - VGV",
                "credit_in_account_currency": "10.00",
                "party_type": "Customer",
                "party": "Webshop Customers",
            },
        ]
    )
    assert post(http, doc).status_code == 200


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


def test_failed_inserts_do_not_use_up_names(http):
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


# -- the unique posting key -------------------------------------------------------------------


def test_duplicate_posting_key_is_a_unique_validation_error(server, http):
    first = post(http, entry()).json()["data"]["name"]
    r = post(http, entry())
    assert r.status_code == 417
    body = r.json()
    assert body["exc_type"] == "UniqueValidationError"
    assert server_messages(r) == [
        {"message": "Mollie Posting Key must be unique", "title": "Message"}
    ]
    assert (
        "Duplicate entry 'mollie-settlement-stl_1' for key 'mollie_posting_key'"
        in body["exception"]
    )
    assert list(server.journal_entries) == [first]
    assert by_key(http, "mollie-settlement-stl_1") == [{"name": first, "docstatus": 1}]


def test_entries_without_a_key_never_clash(http):
    assert post(http, entry(None)).status_code == 200
    assert post(http, entry("")).status_code == 200


def test_without_the_custom_field_the_key_is_refused_or_lost():
    with (
        FrappeTestServer(posting_key_field=None) as s,
        httpx.Client(base_url=s.url, headers={"Authorization": s.auth_header}) as client,
    ):
        r = post(client, entry())
        assert r.status_code == 417
        assert "has no field 'mollie_posting_key'" in server_messages(r)[0]["message"]
    # Like real Frappe (strict=False): the key is dropped silently, so duplicates go through.
    with (
        FrappeTestServer(posting_key_field=None, strict=False) as s,
        httpx.Client(base_url=s.url, headers={"Authorization": s.auth_header}) as client,
    ):
        assert post(client, entry()).status_code == 200
        assert post(client, entry()).status_code == 200
        assert len(s.journal_entries) == 2


def test_lenient_mode_rounds_and_flips_like_erpnext():
    with (
        FrappeTestServer(strict=False) as s,
        httpx.Client(base_url=s.url, headers={"Authorization": s.auth_header}) as client,
    ):
        doc = entry(ignored_field=1)
        doc["accounts"][0]["debit_in_account_currency"] = "95.505"  # → 95.50, half-even
        r = post(client, doc)
        assert r.status_code == 200, r.text
        assert r.json()["data"]["accounts"][0]["debit"] == 95.5
        assert "ignored_field" not in r.json()["data"]


# -- drafts, submit, cancel, delete -----------------------------------------------------------


def test_draft_may_be_unbalanced_submit_may_not(http):
    doc = entry(docstatus=0)
    doc["accounts"][1]["debit_in_account_currency"] = "4.00"
    draft = post(http, doc)
    assert draft.status_code == 200 and draft.json()["data"]["docstatus"] == 0
    name = draft.json()["data"]["name"]
    r = http.put(f"{JE_URL}/{name}", json={"docstatus": 1})
    assert r.status_code == 417
    assert "The difference is -0.5" in server_messages(r)[0]["message"]
    fixed = entry()["accounts"]
    r = http.put(f"{JE_URL}/{name}", json={"docstatus": 1, "accounts": fixed})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["docstatus"] == 1 and r.json()["data"]["name"] == name


def test_submitted_entry_update_cancel_and_delete(server, http):
    name = post(http, entry()).json()["data"]["name"]
    r = http.put(f"{JE_URL}/{name}", json={"user_remark": "changed"})
    assert r.status_code == 417 and r.json()["exc_type"] == "UpdateAfterSubmitError"
    assert (
        http.put(f"{JE_URL}/{name}", json={"title": "Payout"}).json()["data"]["title"] == "Payout"
    )
    r = http.delete(f"{JE_URL}/{name}")
    assert (
        r.status_code == 417
        and "Submitted Record cannot be deleted" in server_messages(r)[0]["message"]
    )
    assert http.put(f"{JE_URL}/{name}", json={"docstatus": 2}).json()["data"]["docstatus"] == 2
    # A cancelled entry keeps its key: re-posting needs a new one (ERPNext's no_copy field).
    assert post(http, entry()).json()["exc_type"] == "UniqueValidationError"
    assert post(http, entry("mollie-settlement-stl_1-r1")).status_code == 200
    assert http.put(f"{JE_URL}/{name}", json={"docstatus": 1}).status_code == 417
    r = http.delete(f"{JE_URL}/{name}")
    assert r.status_code == 202 and r.json() == {"data": "ok"}
    assert name not in server.journal_entries


# -- auth and permissions ---------------------------------------------------------------------


def test_no_credentials_is_guest_and_guest_may_not(server):
    r = httpx.post(f"{server.url}{JE_URL}", json=entry())
    assert r.status_code == 403
    assert r.json() == {
        "exc_type": "PermissionError",
        "_error_message": "Insufficient Permission for Journal Entry (<strong>create</strong>)",
    }
    r = httpx.get(f"{server.url}/api/method/frappe.auth.get_logged_user")
    assert r.status_code == 403 and r.json()["exc_type"] == "PermissionError"
    assert "not whitelisted" in server_messages(r)[0]["message"]
    assert server.journal_entries == {}


@pytest.mark.parametrize(
    "header",
    [
        "token c0ffee5a1ad0b1e:wrong",
        "token nokey:7e57ab1e5ecre70",
        "token c0ffee5a1ad0b1e",
        "Bearer c0ffee5a1ad0b1e:7e57ab1e5ecre70",
        "Basic " + base64.b64encode(b"c0ffee5a1ad0b1e:wrong").decode(),
    ],
)
def test_wrong_credentials_are_401(server, header):
    r = httpx.post(f"{server.url}{JE_URL}", json=entry(), headers={"Authorization": header})
    assert r.status_code == 401
    assert r.json() == {"exc_type": "AuthenticationError"}  # Frappe raises it bare
    assert server.journal_entries == {}


def test_basic_auth_and_logged_user(server):
    basic = base64.b64encode(f"{server.api_key}:{server.api_secret}".encode()).decode()
    r = httpx.get(
        f"{server.url}/api/method/frappe.auth.get_logged_user",
        headers={"Authorization": f"Basic {basic}"},
    )
    assert r.status_code == 200 and r.json() == {"message": DEFAULT_USER}
    r = httpx.get(
        f"{server.url}/api/method/frappe.auth.get_logged_user",
        headers={"Authorization": "Basic %%%"},
    )
    assert r.status_code == 400 and r.json()["exc_type"] == "InvalidAuthorizationToken"


def test_auth_broken_refuses_good_credentials(server, http):
    server.set_auth_broken(True)
    r = post(http, entry())
    assert r.status_code == 401 and r.json()["exc_type"] == "AuthenticationError"
    assert server.requests[-1].fault == "auth_broken"
    assert server.requests[-1].payload[POSTING_KEY_FIELD] == "mollie-settlement-stl_1"
    server.set_auth_broken(False)
    assert post(http, entry()).status_code == 200


def test_missing_submit_permission_is_403(server, http):
    server.set_permissions(submit=False)
    r = post(http, entry())
    assert r.status_code == 403 and r.json()["exc_type"] == "PermissionError"
    assert "(<strong>submit</strong>)" in r.json()["_error_message"]
    assert post(http, entry(docstatus=0)).status_code == 200  # drafts are still allowed
    with pytest.raises(ValueError, match="unknown permission"):
        server.set_permissions(approve=False)


# -- fault injection --------------------------------------------------------------------------


def test_fail_next_500_then_success_posts_once(server, http):
    server.fail_next(2, status=500)
    first, second = post(http, entry()), post(http, entry())
    assert (first.status_code, second.status_code) == (500, 500)
    assert first.json()["exc_type"] == "QueryDeadlockError" and "exception" in first.json()
    assert post(http, entry()).status_code == 200
    assert len(server.journal_entries) == 1
    assert [(r.status, r.fault) for r in server.requests] == [
        (500, "injected"),
        (500, "injected"),
        (200, None),
    ]


def test_fail_next_match_hits_only_that_payload(server, http):
    server.fail_next(
        1, status=417, message="Account is frozen", match=lambda p: p[POSTING_KEY_FIELD] == "k-bad"
    )
    assert post(http, entry("k-good")).status_code == 200
    bad = post(http, entry("k-bad"))
    assert bad.status_code == 417 and bad.json()["exc_type"] == "ValidationError"
    assert [m["message"] for m in server_messages(bad)] == ["Account is frozen"]
    assert post(http, entry("k-bad")).status_code == 200  # the rule is used up


def test_fail_next_429_is_plain_text_with_retry_after(server, http):
    server.fail_next(1, status=429, retry_after=3)
    r = post(http, entry())
    assert r.status_code == 429 and r.text == "Too Many Requests"
    assert r.headers["Retry-After"] == "3" and r.headers["content-type"].startswith("text/plain")
    assert server.journal_entries == {}


def test_fail_next_gateway_errors_are_html(server, http):
    server.fail_next(1, status=502)
    r = post(http, entry())
    assert r.status_code == 502 and "<h1>502 Bad Gateway</h1>" in r.text


def test_fail_next_defaults_to_writes(server, http):
    server.fail_next(1, status=503)
    assert http.get(JE_URL).status_code == 200  # reads pass
    r = post(http, entry())
    assert r.status_code == 503 and r.json()["exc_type"] == "InReadOnlyMode"
    server.fail_next(1, status=500, methods=None)
    assert http.get(JE_URL).status_code == 500


def test_drop_response_after_insert_stores_but_never_answers(server, http):
    server.drop_response_after_insert(1)
    with pytest.raises(httpx.TransportError):
        post(http, entry())
    (name,) = server.journal_entries  # it was posted
    assert server.requests[-1].status is None and server.requests[-1].fault == "dropped"
    # The client cannot know; looking up by key before retrying finds it.
    assert by_key(http, "mollie-settlement-stl_1") == [{"name": name, "docstatus": 1}]
    assert post(http, entry()).json()["exc_type"] == "UniqueValidationError"


def test_drop_response_only_after_a_successful_matching_insert(server, http):
    server.drop_response_after_insert(1, match=lambda p: p[POSTING_KEY_FIELD] == "k2")
    assert post(http, entry("k1")).status_code == 200
    assert post(http, entry("k2", company="Nope")).status_code == 417  # failed: not counted
    with pytest.raises(httpx.TransportError):
        post(http, entry("k2"))
    assert post(http, entry("k3")).status_code == 200
    assert len(server.journal_entries) == 3


# -- lists ------------------------------------------------------------------------------------


def _seed(http: httpx.Client) -> list[str]:
    names = []
    for i, (ref, amount) in enumerate(
        [("1234567.2603.01", "95.50"), ("1234567.2603.02", "10.00"), ("7654321.2603.01", "20.00")],
        1,
    ):
        doc = entry(
            f"mollie-settlement-stl_{i}",
            cheque_no=ref,
            accounts=[
                {"account": "Bank - VGV", "debit_in_account_currency": amount},
                {"account": "Mollie EUR - VGV", "credit_in_account_currency": amount},
            ],
        )
        names.append(post(http, doc).json()["data"]["name"])
    return names


def _names(http: httpx.Client, **params: Any) -> list[str]:
    query = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
    r = http.get(JE_URL, params=query)
    assert r.status_code == 200, r.text
    return [d["name"] if isinstance(d, dict) else d[0] for d in r.json()["data"]]


def test_list_filters_fields_order_and_paging(http):
    a, b, c = _seed(http)
    assert _names(http, order_by="name asc") == [a, b, c]
    assert _names(http) == [c, b, a]  # default: modified desc
    assert _names(http, filters={"cheque_no": "1234567.2603.02"}) == [b]
    assert _names(http, filters={"total_debit": [">=", "20"]}, order_by="name asc") == [a, c]
    assert _names(http, filters=[["cheque_no", "like", "1234567.%"]], order_by="name") == [a, b]
    assert _names(http, filters=[["Journal Entry", "name", "in", [a, c]]], order_by="name") == [
        a,
        c,
    ]
    assert _names(http, filters=[["name", "in", f"{a},{c}"]], order_by="name") == [a, c]
    assert _names(
        http, filters=[["docstatus", "!=", 2], ["cheque_no", "not like", "7%"]], order_by="name"
    ) == [a, b]
    assert _names(
        http,
        or_filters=[["cheque_no", "=", "7654321.2603.01"], ["total_debit", "=", 10]],
        order_by="name",
    ) == [b, c]
    assert _names(
        http, filters=[["Journal Entry Account", "debit_in_account_currency", "=", "20.00"]]
    ) == [c]
    assert _names(
        http, filters=[["cheque_date", "between", ["2026-03-01", "2026-03-31"]]], order_by="name"
    ) == [a, b, c]
    assert _names(http, order_by="name", limit_start="1", limit_page_length="1") == [b]
    assert _names(http, as_dict="0", order_by="name", limit="2") == [a, b]
    r = http.get(JE_URL, params={"fields": '["*"]', "limit_page_length": "1"})
    (row,) = r.json()["data"]
    assert "accounts" not in row and row["cheque_no"] and row["total_debit"] == 20.0


def test_list_default_page_is_20_and_0_means_all(http):
    for i in range(23):
        assert post(http, entry(f"k{i}")).status_code == 200
    assert len(_names(http)) == 20
    assert len(_names(http, limit_page_length="0")) == 23


def test_list_rejects_unknown_fields(http):
    r = http.get(JE_URL, params={"fields": '["name","payout"]'})
    assert r.status_code == 417 and r.json()["exc_type"] == "DataError"
    r = http.get(JE_URL, params={"filters": '[["payout","=",1]]'})
    assert r.status_code == 417 and "payout" in server_messages(r)[0]["message"]


# -- other doctypes and routes ----------------------------------------------------------------


def test_account_list_is_the_chart(http):
    r = http.get(
        "/api/resource/Account",
        params={
            "filters": json.dumps({"company": VGV, "is_group": 0, "root_type": "Expense"}),
            "fields": json.dumps(["name", "account_type", "report_type"]),
            "order_by": "name asc",
        },
    )
    assert r.json()["data"] == [
        {
            "name": "Chargebacks - VGV",
            "account_type": "Expense Account",
            "report_type": "Profit and Loss",
        },
        {
            "name": "Payment Processing Fees - VGV",
            "account_type": "Expense Account",
            "report_type": "Profit and Loss",
        },
        {"name": "Rounding - VGV", "account_type": "Round Off", "report_type": "Profit and Loss"},
    ]
    one = http.get("/api/resource/Account/Mollie GBP - VGV").json()["data"]
    assert (one["account_currency"], one["is_group"], one["root_type"]) == ("GBP", 0, "Asset")
    assert http.get("/api/resource/Cost Center/Main - VGV").json()["data"]["company"] == VGV
    assert http.get("/api/resource/Company/" + VGV).json()["data"]["abbr"] == "VGV"
    r = http.post("/api/resource/Account", json={"account_name": "X"})
    assert r.status_code == 403 and r.json()["exc_type"] == "PermissionError"


def test_bank_transactions_empty_or_seeded(server, http):
    assert http.get("/api/resource/Bank Transaction").json() == {"data": []}
    name = server.add_bank_transaction(
        {
            "date": "2026-03-03",
            "deposit": "95.50",
            "currency": "EUR",
            "bank_account": "ING",
            "reference_number": "1234567.2603.01",
            "transaction_id": "camt-1",
        }
    )
    r = http.get(
        "/api/resource/Bank Transaction",
        params={
            "filters": json.dumps([["reference_number", "=", "1234567.2603.01"]]),
            "fields": json.dumps(["name", "deposit", "status", "docstatus"]),
        },
    )
    assert r.json()["data"] == [
        {"name": name, "deposit": 95.5, "status": "Unreconciled", "docstatus": 1}
    ]
    assert name == "ACC-BTN-2026-00001"
    with pytest.raises(ValueError, match="no field"):
        server.add_bank_transaction({"amount": "1"})


def test_bank_transactions_seeded_at_construction():
    with FrappeTestServer(bank_transactions=[{"date": "2026-03-03", "deposit": "1.00"}]) as s:
        r = httpx.get(
            f"{s.url}/api/resource/Bank Transaction", headers={"Authorization": s.auth_header}
        )
        assert [d["name"] for d in r.json()["data"]] == ["ACC-BTN-2026-00001"]


def test_not_found_answers(http):
    r = http.get(f"{JE_URL}/ACC-JV-2026-09999")
    assert r.status_code == 404
    body = r.json()
    assert body["exc_type"] == "DoesNotExistError" and "exception" not in body  # as Frappe: 404
    assert server_messages(r)[0]["message"] == "Journal Entry ACC-JV-2026-09999 not found"
    assert http.get("/api/resource/Sales Invoice").status_code == 404
    assert http.get("/api/method/frappe.client.get_count").status_code == 404
    assert http.get("/api/v2/document/Journal Entry").status_code == 404


def test_invalid_json_body(http):
    r = http.post(JE_URL, content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 417 and r.json()["exc_type"] == "ValidationError"


# -- the chart --------------------------------------------------------------------------------


def test_default_chart():
    chart = Chart.default()
    assert chart.companies[VGV].abbr == "VGV"
    for name in (
        "Mollie EUR - VGV",
        "Mollie GBP - VGV",
        "Bank - VGV",
        "Sales - VGV",
        "Sales Returns - VGV",
        "Chargebacks - VGV",
        "Payment Processing Fees - VGV",
        "Input VAT - VGV",
        "Rounding - VGV",
    ):
        acc = chart.accounts[name]
        assert acc.company == VGV and not acc.is_group and not acc.disabled
    assert chart.accounts["Current Assets - VGV"].is_group
    assert {a.company for a in chart.accounts.values()} == {VGV, "Groene Vork Events B.V."}
    assert "Main - VGV" in chart.cost_centers


def test_chart_from_toml_and_json(tmp_path):
    (tmp_path / "chart.toml").write_text(
        '[accounts."Kas - ABC"]\ncompany = "ABC B.V."\nroot_type = "Asset"\n'
        'account_type = "Cash"\naccount_currency = "EUR"\n'
        '[accounts."Omzet - ABC"]\ncompany = "ABC B.V."\nroot_type = "Income"\n',
        encoding="utf-8",
    )
    chart = Chart.load(tmp_path / "chart.toml")
    assert chart.companies["ABC B.V."].abbr == "ABC"
    assert list(chart.cost_centers) == ["Main - ABC"]
    full = {
        "companies": {"ABC B.V.": {"abbr": "ABC", "books_closed_until": "2025-12-31"}},
        "accounts": {"Kas - ABC": {"company": "ABC B.V.", "root_type": "Asset"}},
        "cost_centers": {"Hoofd - ABC": {"company": "ABC B.V."}},
        "parties": {"Customer": ["Klanten"]},
    }
    (tmp_path / "chart.json").write_text(json.dumps(full), encoding="utf-8")
    loaded = Chart.load(tmp_path / "chart.json")
    assert str(loaded.companies["ABC B.V."].books_closed_until) == "2025-12-31"
    assert loaded.parties == {"Customer": ("Klanten",)}
    with pytest.raises(ValueError, match="unknown company"):
        Chart.from_dict(
            {"accounts": {"X": {"company": "Nope", "root_type": "Asset"}}, "companies": {}}
        )
    with pytest.raises(ValueError, match="root_type"):
        Chart.from_dict({"X - A": {"company": "A", "root_type": "Cash"}})


def test_server_with_a_custom_chart(tmp_path):
    chart = Chart.from_dict(
        {
            "Kas - ABC": {"company": "ABC B.V.", "root_type": "Asset", "account_type": "Cash"},
            "Omzet - ABC": {"company": "ABC B.V.", "root_type": "Income"},
        }
    )
    with (
        FrappeTestServer(chart, company="ABC B.V.") as s,
        httpx.Client(base_url=s.url, headers={"Authorization": s.auth_header}) as client,
    ):
        r = post(
            client,
            {
                "voucher_type": "Cash Entry",
                "posting_date": "2026-01-05",
                "company": "ABC B.V.",
                "docstatus": 1,
                "accounts": [
                    {"account": "Kas - ABC", "debit_in_account_currency": 5},
                    {
                        "account": "Omzet - ABC",
                        "credit_in_account_currency": 5,
                        "cost_center": "Main - ABC",
                    },
                ],
            },
        )
        assert r.status_code == 200, r.text
    with pytest.raises(ValueError, match="not in the chart"):
        FrappeTestServer(chart)
    assert isinstance(chart.accounts["Kas - ABC"], Account)


# -- field names against ERPNext's doctype definitions ----------------------------------------


def _reference(doctype: str) -> dict[str, dict[str, Any]]:
    meta = json.loads(DOCTYPES.read_text(encoding="utf-8"))["doctypes"][doctype]
    return {f["fieldname"]: f for f in meta["fields"]}


LAYOUT = {"Section Break", "Column Break", "Button", "Tab Break", "HTML"}


@pytest.mark.parametrize(
    ("doctype", "schema", "mandatory"),
    [
        ("Journal Entry", JOURNAL_ENTRY_FIELDS, MANDATORY_FIELDS),
        ("Journal Entry Account", JOURNAL_ENTRY_ACCOUNT_FIELDS, MANDATORY_ROW_FIELDS),
    ],
)
def test_accepted_fields_match_erpnext_doctypes(doctype, schema, mandatory):
    ref = _reference(doctype)
    for name, f in schema.items():
        assert name in ref, f"{name} is not a field of {doctype}"
        r = ref[name]
        assert (f.fieldtype, f.label) == (r["fieldtype"], r.get("label")), name
        if f.fieldtype in ("Link", "Dynamic Link", "Select", "Table"):
            assert f.options == r.get("options", ""), name
        assert f.allow_on_submit == bool(r.get("allow_on_submit")), name
    data_fields = {n for n, r in ref.items() if r["fieldtype"] not in LAYOUT}
    assert set(schema) == data_fields  # nothing a real site accepts is refused here
    assert set(mandatory) == {n for n, r in ref.items() if r.get("reqd")}
    assert POSTING_KEY_FIELD not in ref  # the one accepted field that is ours: a Custom Field


def test_every_field_posted_in_these_tests_is_known(server, http):
    _seed(http)
    post(
        http,
        entry(
            multi_currency=1,
            accounts=[
                {"account": "Bank - VGV", "debit_in_account_currency": "1.17"},
                {
                    "account": "Mollie GBP - VGV",
                    "credit_in_account_currency": "1.00",
                    "exchange_rate": "1.17",
                },
            ],
        ),
    )
    posted = [r.payload for r in server.requests if r.method == "POST"]
    header = {k for p in posted for k in p}
    rows = {k for p in posted for row in p["accounts"] for k in row}
    assert header <= set(JOURNAL_ENTRY_FIELDS) | {POSTING_KEY_FIELD, "docstatus"}
    assert rows <= set(JOURNAL_ENTRY_ACCOUNT_FIELDS)
