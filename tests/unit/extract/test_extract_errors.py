"""Error mapping: every HTTP status and unusable answer to its typed error, with the fix in the
message and never the token."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable

import httpx
import pytest
from mollie_fakes import SAMPLES_DIR, TOKEN, page, problem, sequence

from extract.client import MollieClient
from extract.errors import (
    MollieAuthError,
    MollieBadRequestError,
    MollieConnectionError,
    MollieError,
    MollieInvalidResponseError,
    MollieNotFoundError,
    MolliePermissionError,
    MollieRateLimitError,
    MollieServerError,
    Problem,
    error_for_response,
)
from extract.settings import ClientSettings

MakeClient = Callable[..., MollieClient]


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, MollieBadRequestError),
        (401, MollieAuthError),
        (403, MolliePermissionError),
        (404, MollieNotFoundError),
        (422, MollieBadRequestError),
        (429, MollieRateLimitError),
        (500, MollieServerError),
        (502, MollieServerError),
        (503, MollieServerError),
        (409, MollieError),
        (418, MollieError),
    ],
)
def test_status_maps_to_error_class(
    make_client: MakeClient, status: int, error_class: type[MollieError]
) -> None:
    client = make_client(sequence(problem(status, "what went wrong")), max_retries=0)
    with pytest.raises(MollieError) as info:
        client.get("/payments")
    assert type(info.value) is error_class
    assert info.value.status == status
    assert info.value.problem is not None and info.value.problem.detail == "what went wrong"
    assert "what went wrong" in str(info.value)
    assert info.value.request == "GET /payments"


@pytest.mark.parametrize(
    ("status", "hint"),
    [
        (401, "MOLLIE_ACCESS_TOKEN"),
        (403, "balances.read"),
        (404, "MOLLIE_TESTMODE"),
        (422, "fix the parameter `from`"),
        (429, "rate_per_second"),
        (503, "status.mollie.com"),
    ],
)
def test_messages_say_what_to_do(make_client: MakeClient, status: int, hint: str) -> None:
    client = make_client(sequence(problem(status, field="from")), max_retries=0)
    with pytest.raises(MollieError, match=hint.replace(".", r"\.")):
        client.get("/payments")


def test_bad_request_message_names_field() -> None:
    body = (SAMPLES_DIR / "order_error.json").read_bytes()
    error = error_for_response(422, body, request="GET /payments", path="/payments", token=TOKEN)
    assert isinstance(error, MollieBadRequestError)
    assert error.problem is not None and error.problem.field == "lines.1.vatAmount"
    assert "lines.1.vatAmount" in str(error)


@pytest.mark.parametrize(
    ("name", "status", "title"),
    [
        ("error_unauthorized.json", 401, "Unauthorized Request"),
        ("customer_doesnotexist.json", 404, "Not Found"),
        ("error_teapot.json", 418, "I'm a teapot"),
        ("conflict_error.json", 409, "Conflict"),
        ("bad_request.json", 400, "Bad Request"),
        ("order_error.json", 422, "Unprocessable Entity"),
        ("mollie-api-php/unprocessable-entity.json", 422, "Unprocessable Entity"),
    ],
)
def test_problem_json_samples_decode(name: str, status: int, title: str) -> None:
    decoded = Problem.from_body((SAMPLES_DIR / name).read_bytes())
    assert decoded is not None
    assert (decoded.status, decoded.title) == (status, title)
    assert decoded.detail


def test_problem_oauth_style_and_garbage() -> None:
    oauth = Problem.from_body((SAMPLES_DIR / "error_bad_request.json").read_bytes())
    assert oauth is not None and oauth.title == "invalid_grant"
    assert "Authorization code" in (oauth.detail or "")
    assert Problem.from_body(b"<html>oops</html>") is None
    assert Problem.from_body(b"[1, 2]") is None
    assert Problem.from_body(b'{"unrelated": true}') is None


def test_error_without_problem_body_still_typed(make_client: MakeClient) -> None:
    html = httpx.Response(502, text="<html>Bad gateway</html>")
    client = make_client(sequence(html), max_retries=0)
    with pytest.raises(MollieServerError, match="no problem details"):
        client.get("/payments")


# -- profile API keys on organization-only endpoints ---------------------------------------


@pytest.mark.parametrize("prefix", ["test_", "live_"])
@pytest.mark.parametrize(
    "path", ["/balances", "/settlements/stl_1/payments", "/invoices", "/organizations/me"]
)
def test_profile_key_refused_before_any_request(
    make_client: MakeClient, prefix: str, path: str
) -> None:
    client = make_client(sequence(), token=f"{prefix}abcdefSECRET")
    with pytest.raises(MolliePermissionError) as info:
        client.get(path)
    message = str(info.value)
    assert message.startswith(f"MOLLIE_ACCESS_TOKEN is a profile API key ({prefix}…);")
    assert "need an organization access token (access_…)" in message
    assert "Dashboard → Developers → API access tokens" in message
    assert "abcdefSECRET" not in message
    assert client.counters.requests == 0


def test_profile_key_allowed_on_payments(make_client: MakeClient) -> None:
    client = make_client(sequence(page("payments", [{"id": "tr_1"}])), token="test_abc")
    assert list(client.iter_pages("/payments", "payments")) == [[{"id": "tr_1"}]]


@pytest.mark.parametrize("status", [401, 403])
def test_profile_key_answer_on_org_endpoint_explains(status: int) -> None:
    error = error_for_response(
        status, b"{}", request="GET /balances", path="/balances", token="live_abc"
    )
    assert isinstance(error, MolliePermissionError)
    assert error.status == status
    assert "profile API key (live_…)" in str(error)


# -- unusable answers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        (httpx.Response(200, html="<html><body>Sign in to the Wi-Fi</body></html>"), "HTML"),
        (httpx.Response(200, text="OK"), "not JSON"),
        (httpx.Response(200, json=[1, 2]), "JSON list instead of an object"),
        (httpx.Response(302, headers={"Location": "https://example.org/"}), "redirect"),
    ],
)
def test_unusable_answers_are_not_retried(
    make_client: MakeClient, response: httpx.Response, reason: str
) -> None:
    client = make_client(sequence(response))
    with pytest.raises(MollieInvalidResponseError, match=reason) as info:
        client.get("/payments")
    assert not info.value.retryable
    assert "MOLLIE_API_BASE_URL" in str(info.value)
    assert client.counters.requests == 1


def test_missing_embedded_is_invalid(make_client: MakeClient) -> None:
    client = make_client(sequence(httpx.Response(200, json={"count": 0, "_links": {}})))
    with pytest.raises(MollieInvalidResponseError, match=r"_embedded\.payments"):
        list(client.iter_pages("/payments", "payments"))


def test_missing_token_fails_at_construction() -> None:
    with pytest.raises(MollieAuthError, match="MOLLIE_ACCESS_TOKEN"):
        MollieClient(ClientSettings(token=""))


# -- the token never leaks -------------------------------------------------------------------


def _echo_token(status: int) -> httpx.Response:
    return problem(status, f"the token {TOKEN} is wrong")


@pytest.mark.parametrize(
    "answer",
    [
        _echo_token(400),
        _echo_token(401),
        _echo_token(403),
        _echo_token(404),
        _echo_token(422),
        _echo_token(429),
        _echo_token(500),
        _echo_token(418),
        httpx.Response(200, text=f"token={TOKEN}"),
        httpx.ConnectError(f"cannot connect with {TOKEN}"),
    ],
    ids=["400", "401", "403", "404", "422", "429", "500", "418", "text", "connect"],
)
def test_token_never_in_errors_or_logs(
    make_client: MakeClient,
    caplog: pytest.LogCaptureFixture,
    answer: httpx.Response | Exception,
) -> None:
    caplog.set_level(logging.DEBUG)
    client = make_client(sequence(answer), max_retries=0)
    with pytest.raises(MollieError) as info:
        client.get("/payments")
    error = info.value
    if isinstance(answer, Exception):
        assert isinstance(error, MollieConnectionError)
    traceback_text = "".join(traceback.format_exception(error))
    outputs = [str(error), repr(error), traceback_text, repr(client), caplog.text]
    outputs += [repr(client.settings), repr(client.counters), error.summary]
    for text in outputs:
        assert TOKEN not in text
    if not (isinstance(answer, httpx.Response) and answer.status_code == 200):
        assert "***" in str(error)  # the echoed token was scrubbed, not merely absent
