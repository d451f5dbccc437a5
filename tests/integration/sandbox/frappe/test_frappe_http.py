"""The Frappe stand-in's HTTP surface: auth and permissions, injected faults, lists, the read-only
doctypes and bad requests."""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from frappe_standin import (  # noqa: F401 (fresh, http, server: pytest fixtures)
    JE_URL,
    VGV,
    by_key,
    entry,
    fresh,
    http,
    names,
    post,
    seed,
    server,
    server_messages,
)

from sandbox.frappe import (
    DEFAULT_USER,
    POSTING_KEY_FIELD,
    FrappeTestServer,
)

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


def test_list_filters_fields_order_and_paging(http):
    a, b, c = seed(http)
    assert names(http, order_by="name asc") == [a, b, c]
    assert names(http) == [c, b, a]  # default: modified desc
    assert names(http, filters={"cheque_no": "1234567.2603.02"}) == [b]
    assert names(http, filters={"total_debit": [">=", "20"]}, order_by="name asc") == [a, c]
    assert names(http, filters=[["cheque_no", "like", "1234567.%"]], order_by="name") == [a, b]
    assert names(http, filters=[["Journal Entry", "name", "in", [a, c]]], order_by="name") == [
        a,
        c,
    ]
    assert names(http, filters=[["name", "in", f"{a},{c}"]], order_by="name") == [a, c]
    assert names(
        http, filters=[["docstatus", "!=", 2], ["cheque_no", "not like", "7%"]], order_by="name"
    ) == [a, b]
    assert names(
        http,
        or_filters=[["cheque_no", "=", "7654321.2603.01"], ["total_debit", "=", 10]],
        order_by="name",
    ) == [b, c]
    assert names(
        http, filters=[["Journal Entry Account", "debit_in_account_currency", "=", "20.00"]]
    ) == [c]
    assert names(
        http, filters=[["cheque_date", "between", ["2026-03-01", "2026-03-31"]]], order_by="name"
    ) == [a, b, c]
    assert names(http, order_by="name", limit_start="1", limit_page_length="1") == [b]
    assert names(http, as_dict="0", order_by="name", limit="2") == [a, b]
    r = http.get(JE_URL, params={"fields": '["*"]', "limit_page_length": "1"})
    (row,) = r.json()["data"]
    assert "accounts" not in row and row["cheque_no"] and row["total_debit"] == 20.0


def test_list_default_page_is_20_and_0_means_all(http):
    for i in range(23):
        assert post(http, entry(f"k{i}")).status_code == 200
    assert len(names(http)) == 20
    assert len(names(http, limit_page_length="0")) == 23


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
            "name": "Mollie Corrections - VGV",
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
