"""The Frappe stand-in takes a valid Journal Entry as ERPNext does: insert and submit, the unique
posting key, drafts, submit, cancel and delete, over real HTTP."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
from frappe_standin import (  # noqa: F401 (fresh, http, server: pytest fixtures)
    JE_URL,
    by_key,
    entry,
    fresh,
    http,
    post,
    server,
    server_messages,
)

from sandbox.frappe import (
    DEFAULT_USER,
    FrappeTestServer,
)

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
