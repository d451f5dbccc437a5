"""One Frappe stand-in site holding three organizations' companies (`Chart.for_companies`): each
company posts to its own accounts and cost centre, and an entry of one company naming another's
account or cost centre is refused as ERPNext refuses it."""

from __future__ import annotations

import httpx
import pytest
from frappe_standin import entry, post, server_messages

from sandbox.frappe import Chart, FrappeTestServer

COMPANIES = [
    ("Vereniging Groene Vork", "VGV"),
    ("Vereniging Blauwe Reiger", "VBR"),
    ("Vereniging Rode Kaart", "VRK"),
]


@pytest.fixture(scope="module")
def http():
    with (
        FrappeTestServer(Chart.for_companies(COMPANIES)) as server,
        httpx.Client(
            base_url=server.url, headers={"Authorization": server.auth_header}, timeout=10
        ) as client,
    ):
        yield client


def company_entry(company: str, abbr: str, key: str) -> dict:
    """The stand-in's valid settlement entry, booked by `company` on its own accounts."""
    doc = entry(key, company=company)
    for row in doc["accounts"]:
        row["account"] = row["account"].replace(" - VGV", f" - {abbr}")
        if "cost_center" in row:
            row["cost_center"] = f"Main - {abbr}"
    return doc


def test_each_company_posts_on_its_own_accounts(http):
    for company, abbr in COMPANIES:
        response = post(http, company_entry(company, abbr, f"mollie-settlement-{abbr}"))
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        assert data["company"] == company and data["docstatus"] == 1
        assert {r["account"] for r in data["accounts"]} == {
            f"Bank - {abbr}",
            f"Payment Processing Fees - {abbr}",
            f"Sales - {abbr}",
        }


def test_an_entry_naming_another_companys_account_is_refused(http):
    doc = company_entry("Vereniging Groene Vork", "VGV", "mollie-settlement-mixed-account")
    doc["accounts"][0]["account"] = "Bank - VBR"
    response = post(http, doc)
    assert response.status_code == 417
    assert response.json()["exc_type"] == "ValidationError"
    (message,) = server_messages(response)
    assert message["message"].endswith(
        "Account Bank - VBR does not belong to Company Vereniging Groene Vork"
    )


def test_an_entry_naming_another_companys_cost_centre_is_refused(http):
    doc = company_entry("Vereniging Rode Kaart", "VRK", "mollie-settlement-mixed-cost-centre")
    doc["accounts"][2]["cost_center"] = "Main - VBR"
    response = post(http, doc)
    assert response.status_code == 417
    (message,) = server_messages(response)
    assert message["message"].endswith(
        "Cost Center Main - VBR does not belong to Company Vereniging Rode Kaart"
    )
