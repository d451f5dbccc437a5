"""Frappe's error envelope decoded into typed errors; retries; no secret in any message."""

from __future__ import annotations

import json

import httpx
import pytest

from export.frappe_client import (
    FrappeAuthError,
    FrappeClient,
    FrappeDuplicateError,
    FrappeError,
    FrappeNotFoundError,
    FrappeTransientError,
    FrappeValidationError,
    decode_error_body,
    error_from_response,
    parse_retry_after,
)
from export.settings import FrappeSettings

SITE = "https://erp.example.org"
SECRET = "s3cr3t-v4lue-xyz"


def server_messages(*messages: str) -> str:
    """Frappe's `_server_messages`: a JSON string of a list of JSON strings."""
    return json.dumps(
        [
            json.dumps({"message": m, "title": "Message", "indicator": "red", "raise_exception": 1})
            for m in messages
        ]
    )


def response(status: int, body=None, *, text: str | None = None, headers=None) -> httpx.Response:
    if text is not None:
        return httpx.Response(status, text=text, headers=headers)
    return httpx.Response(status, json=body, headers=headers)


def test_server_messages_are_decoded_twice_and_stripped_of_html():
    body = {
        "exc_type": "ValidationError",
        "_server_messages": server_messages(
            "Account <strong>X</strong> &amp; Y is frozen", "second"
        ),
    }
    assert decode_error_body(body) == ("ValidationError", "Account X & Y is frozen; second")


def test_fallbacks_error_message_then_exception():
    assert decode_error_body(
        {
            "exc_type": "PermissionError",
            "_error_message": "Insufficient Permission for Journal Entry (<strong>create</strong>)",
        }
    ) == ("PermissionError", "Insufficient Permission for Journal Entry (create)")
    assert decode_error_body(
        {
            "exc_type": "DocstatusTransitionError",
            "exception": "frappe.exceptions.DocstatusTransitionError: Cannot change",
        }
    ) == ("DocstatusTransitionError", "Cannot change")
    assert decode_error_body("Too Many Requests") == (None, "")


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (
            417,
            {
                "exc_type": "LinkValidationError",
                "_server_messages": server_messages("Could not find Row #1: Account: X"),
            },
            FrappeValidationError,
        ),
        (
            417,
            {
                "exc_type": "UniqueValidationError",
                "_server_messages": server_messages("Mollie Posting Key must be unique"),
            },
            FrappeDuplicateError,
        ),
        (409, {"exc_type": "DuplicateEntryError"}, FrappeDuplicateError),
        (417, {"exc_type": "RateLimitExceededError"}, FrappeTransientError),
        (401, {"exc_type": "AuthenticationError"}, FrappeAuthError),
        (403, {"exc_type": "PermissionError"}, FrappeAuthError),
        (400, {"exc_type": "InvalidAuthorizationToken"}, FrappeAuthError),
        (404, {"exc_type": "DoesNotExistError"}, FrappeNotFoundError),
        (500, {"exc_type": "QueryDeadlockError"}, FrappeTransientError),
        (503, {"exc_type": "InReadOnlyMode"}, FrappeTransientError),
        (405, None, FrappeError),
    ],
)
def test_status_and_exc_type_map_to_types(status, body, kind):
    err = error_from_response(response(status, body), SITE)
    assert type(err) is kind
    assert err.status == status


def test_validation_message_is_frappes_own_words():
    body = {
        "exc_type": "ValidationError",
        "_server_messages": server_messages("Total Debit must be equal to Total Credit."),
    }
    err = error_from_response(response(417, body), SITE)
    assert err.message == "Total Debit must be equal to Total Credit."
    assert err.exc_type == "ValidationError"


def test_plain_text_429_and_html_502_are_transient_with_retry_after():
    err = error_from_response(
        response(429, text="Too Many Requests", headers={"Retry-After": "12"}), SITE
    )
    assert isinstance(err, FrappeTransientError) and err.retry_after == 12
    html = "<html><head><title>502 Bad Gateway</title></head></html>"
    assert isinstance(error_from_response(response(502, text=html), SITE), FrappeTransientError)


def test_retry_after_http_date():
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_auth_messages_name_the_variables_and_permissions_not_the_secret():
    e401 = error_from_response(response(401, {"exc_type": "AuthenticationError"}), SITE)
    assert "FRAPPE_API_KEY" in e401.message and "FRAPPE_API_SECRET" in e401.message
    e403 = error_from_response(response(403, {"exc_type": "PermissionError"}), SITE)
    assert "submit on Journal Entry" in e403.message


def make_client(handler, **settings) -> tuple[FrappeClient, list[float]]:
    sleeps: list[float] = []
    s = FrappeSettings(SITE, "key", SECRET, backoff_initial=0.01, backoff_max=0.02, **settings)
    return FrappeClient(s, transport=httpx.MockTransport(handler), sleep=sleeps.append), sleeps


def test_reads_are_retried_honouring_retry_after_and_capped():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            return httpx.Response(429, text="Too Many Requests", headers={"Retry-After": "3"})
        if len(calls) == 2:
            return httpx.Response(429, text="Too Many Requests", headers={"Retry-After": "999"})
        return httpx.Response(200, json={"message": "api@example.org"})

    client, sleeps = make_client(handler, max_wait=60)
    assert client.logged_user() == "api@example.org"
    assert sleeps[0] >= 3 and sleeps[1] == 60
    assert calls[0].headers["Authorization"] == f"token key:{SECRET}"


def test_inserts_are_not_retried_by_the_client():
    calls = []

    def handler(request):
        calls.append(request)
        return httpx.Response(500, json={"exc_type": "QueryDeadlockError"})

    client, _ = make_client(handler)
    with pytest.raises(FrappeTransientError):
        client.insert("Journal Entry", b"{}")
    assert len(calls) == 1


def test_connection_errors_are_transient_and_exhaust_the_budget():
    def handler(request):
        raise httpx.ConnectError("refused", request=request)

    client, sleeps = make_client(handler, attempts=3)
    with pytest.raises(FrappeTransientError, match="no answer"):
        client.logged_user()
    assert len(sleeps) == 2


def test_the_secret_never_reaches_an_error_or_repr():
    def handler(request):
        echoed = request.headers["Authorization"]
        return httpx.Response(
            417,
            json={
                "exc_type": "ValidationError",
                "_server_messages": server_messages(f"bad {echoed}"),
            },
        )

    client, _ = make_client(handler)
    with pytest.raises(FrappeValidationError) as err:
        client.insert("Journal Entry", b"{}")
    assert SECRET not in str(err.value) and "***" in str(err.value)
    assert SECRET not in repr(client) and SECRET not in repr(client.settings)
