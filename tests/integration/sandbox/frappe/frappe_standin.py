"""What the Frappe stand-in's tests share: the server fixtures, a valid settlement entry, posting
and decoding helpers, and a few seeded entries for the list tests.

Not a conftest.py: test folders import their own `conftest` by name, and one more on sys.path
could shadow theirs. The test modules import the fixtures from here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.frappe import POSTING_KEY_FIELD, FrappeTestServer

# ERPNext 15's Journal Entry doctypes (field names, types, flags), with their source inside.
DOCTYPES = (
    Path(__file__).resolve().parents[3] / "fixtures" / "erpnext" / "journal_entry_doctypes.json"
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


def seed(http: httpx.Client) -> list[str]:
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


def names(http: httpx.Client, **params: Any) -> list[str]:
    query = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
    r = http.get(JE_URL, params=query)
    assert r.status_code == 200, r.text
    return [d["name"] if isinstance(d, dict) else d[0] for d in r.json()["data"]]


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
