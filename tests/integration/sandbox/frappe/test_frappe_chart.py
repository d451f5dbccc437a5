"""The Frappe stand-in's chart (companies, accounts, cost centres, fiscal years) and its Journal
Entry fields, checked against ERPNext 15's doctypes (tests/fixtures/erpnext)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from frappe_standin import (  # noqa: F401 (fresh, http, server: pytest fixtures)
    DOCTYPES,
    VGV,
    entry,
    fresh,
    http,
    post,
    seed,
    server,
)

from sandbox.frappe import (
    JOURNAL_ENTRY_ACCOUNT_FIELDS,
    JOURNAL_ENTRY_FIELDS,
    MANDATORY_FIELDS,
    MANDATORY_ROW_FIELDS,
    POSTING_KEY_FIELD,
    Account,
    Chart,
    FrappeTestServer,
)

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
    seed(http)
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
