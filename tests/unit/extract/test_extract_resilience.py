"""Retries, Retry-After, circuit breaker, token bucket and counters."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest
from mollie_fakes import TOKEN, FakeTime, page, problem, sequence

from extract.client import MollieClient
from extract.errors import (
    MollieCircuitOpenError,
    MollieConnectionError,
    MollieError,
    MollieNotFoundError,
    MollieRateLimitError,
    MollieServerError,
)
from extract.resilience import (
    BACKOFF_INITIAL_SECONDS,
    BACKOFF_JITTER_SECONDS,
    LATENCY_BUCKETS,
    MAX_RETRY_AFTER_SECONDS,
    CircuitBreaker,
    Counters,
    TokenBucket,
    endpoint_family,
    parse_retry_after,
)

MakeClient = Callable[..., MollieClient]


def ok() -> httpx.Response:
    return page("balances", [{"id": "bal_1"}])


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("7", 7.0),
        ("1.5", 1.5),
        (" 0 ", 0.0),
        ("-3", 0.0),
        ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC)
    assert parse_retry_after(header, now=now) == seconds


def test_429_honours_retry_after(
    make_client: MakeClient, fake_time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="extract.resilience")
    answer = problem(429, f"slow down {TOKEN}", headers={"Retry-After": "7"})
    client = make_client(sequence(answer, ok()))
    assert client.get("/balances")["count"] == 1
    assert fake_time.sleeps == [7.0]
    assert "429 on GET /balances; retry 1 of 5 in 7.0s" in caplog.text
    assert TOKEN not in caplog.text
    snapshot = client.counters.snapshot()
    assert (snapshot["requests"], snapshot["retries"], snapshot["rate_limited"]) == (2, 1, 1)


def test_503_honours_retry_after_too(make_client: MakeClient, fake_time: FakeTime) -> None:
    client = make_client(sequence(problem(503, headers={"Retry-After": "2"}), ok()))
    client.get("/balances")
    assert fake_time.sleeps == [2.0]


def test_backoff_is_exponential_with_jitter(make_client: MakeClient, fake_time: FakeTime) -> None:
    client = make_client(sequence(problem(500), problem(502), problem(503), ok()))
    client.get("/balances")
    assert len(fake_time.sleeps) == 3
    for attempt, waited in enumerate(fake_time.sleeps):
        floor = BACKOFF_INITIAL_SECONDS * 2**attempt
        assert floor <= waited <= floor + BACKOFF_JITTER_SECONDS
    assert client.counters.server_errors == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_client_errors_are_never_retried(
    make_client: MakeClient, fake_time: FakeTime, status: int
) -> None:
    client = make_client(sequence(problem(status), ok()), max_retries=5)
    with pytest.raises(MollieError):
        client.get("/balances")
    assert client.request_count("/balances") == 1
    assert fake_time.sleeps == []
    assert client.counters.retries == 0


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ConnectError("connection refused"),
        httpx.ReadTimeout("read timed out"),
        httpx.RemoteProtocolError("server disconnected without sending a response"),
    ],
)
def test_connection_errors_and_timeouts_are_retried(
    make_client: MakeClient, failure: Exception
) -> None:
    client = make_client(sequence(failure, ok()))
    assert client.get("/balances")["count"] == 1
    assert client.counters.connection_errors == 1
    assert client.counters.retries == 1


def test_connection_errors_end_typed(make_client: MakeClient) -> None:
    client = make_client(sequence(*[httpx.ConnectError("refused")] * 3), max_retries=2)
    with pytest.raises(MollieConnectionError, match="Could not reach Mollie"):
        client.get("/balances")
    assert client.counters.requests == 3


class _CutOffStream(httpx.SyncByteStream):
    """A body that breaks off half-way, like a dropped connection."""

    def __iter__(self):  # type: ignore[override]
        yield b'{"count": 1, "_embedded": {"bal'
        raise httpx.RemoteProtocolError("peer closed connection without sending complete body")


def test_truncated_body_is_retried(make_client: MakeClient) -> None:
    cut = httpx.Response(200, stream=_CutOffStream())
    client = make_client(sequence(cut, ok()))
    assert client.get("/balances")["count"] == 1
    assert client.counters.truncated_responses == 1


def test_incomplete_json_is_retried(make_client: MakeClient) -> None:
    half = httpx.Response(
        200, content=b'{"count": 1, "_embe', headers={"Content-Type": "application/hal+json"}
    )
    client = make_client(sequence(half, ok()))
    assert client.get("/balances")["count"] == 1
    assert client.counters.retries == 1


def test_retries_run_out_with_typed_error(make_client: MakeClient, fake_time: FakeTime) -> None:
    client = make_client(sequence(*[problem(429)] * 3), max_retries=2)
    with pytest.raises(MollieRateLimitError):
        client.get("/balances")
    assert client.counters.requests == 3
    assert len(fake_time.sleeps) == 2


def test_excessive_retry_after_gives_up(make_client: MakeClient, fake_time: FakeTime) -> None:
    too_long = str(int(MAX_RETRY_AFTER_SECONDS) + 1)
    client = make_client(sequence(problem(429, headers={"Retry-After": too_long}), ok()))
    with pytest.raises(MollieRateLimitError):
        client.get("/balances")
    assert fake_time.sleeps == []
    assert client.counters.requests == 1


# -- circuit breaker -------------------------------------------------------------------------


def test_circuit_opens_and_ends_the_run(make_client: MakeClient, fake_time: FakeTime) -> None:
    always_503 = sequence(*[problem(503)] * 10)
    client = make_client(always_503, max_retries=10, breaker_threshold=3, breaker_reset_seconds=60)
    with pytest.raises(MollieCircuitOpenError) as info:
        client.get("/balances")
    assert isinstance(info.value.__cause__, MollieServerError)
    assert client.counters.requests == 3  # stopped at the threshold despite 10 retries left
    assert client.counters.circuit_opened == 1
    message = str(info.value)
    assert "3 consecutive failed requests" in message
    assert "503 on GET /balances" in message
    assert "status.mollie.com" in message

    with pytest.raises(MollieCircuitOpenError):  # later calls fail fast, nothing is sent
        client.get("/payments")
    assert client.counters.requests == 3


def test_circuit_half_opens_after_reset(make_client: MakeClient, fake_time: FakeTime) -> None:
    client = make_client(
        sequence(problem(500), problem(500), ok()),
        max_retries=0,
        breaker_threshold=2,
        breaker_reset_seconds=30,
    )
    with pytest.raises(MollieServerError):
        client.get("/balances")
    with pytest.raises(MollieCircuitOpenError):
        client.get("/balances")
    fake_time.now += 30
    assert client.get("/balances")["count"] == 1  # the probe succeeds and closes the circuit
    assert not client._resilience.breaker.is_open


def test_breaker_counts_only_consecutive_failures() -> None:
    breaker = CircuitBreaker(3, 10, clock=lambda: 0.0)
    assert not breaker.record_failure("a")
    assert not breaker.record_failure("b")
    breaker.record_success()  # e.g. a 404: the API answered
    assert not breaker.record_failure("c")
    assert not breaker.is_open
    breaker.before_request()


def test_breaker_allows_one_probe_at_a_time() -> None:
    now = [0.0]
    breaker = CircuitBreaker(1, 5, clock=lambda: now[0])
    assert breaker.record_failure("503 on GET /x")
    with pytest.raises(MollieCircuitOpenError, match="503 on GET /x"):
        breaker.before_request()
    now[0] = 5.0
    breaker.before_request()  # the probe
    with pytest.raises(MollieCircuitOpenError):
        breaker.before_request()  # a second caller while probing
    assert breaker.record_failure("again")  # probe failed: open again
    with pytest.raises(MollieCircuitOpenError):
        breaker.before_request()


def test_not_found_does_not_trip_the_breaker(make_client: MakeClient) -> None:
    client = make_client(sequence(*[problem(404)] * 5), breaker_threshold=2)
    for _ in range(5):
        with pytest.raises(MollieNotFoundError):
            client.get("/payments/tr_x")
    assert not client._resilience.breaker.is_open


# -- token bucket ------------------------------------------------------------------------------


def test_token_bucket_burst_then_rate(fake_time: FakeTime) -> None:
    bucket = TokenBucket(2.0, 3, clock=fake_time.clock, sleep=fake_time.sleep)
    waits = [bucket.acquire() for _ in range(5)]
    assert waits == [0.0, 0.0, 0.0, 0.5, 0.5]
    fake_time.now += 10  # refills, but never above the burst
    assert [bucket.acquire() for _ in range(4)] == [0.0, 0.0, 0.0, 0.5]


def test_token_bucket_is_thread_safe() -> None:
    sleeps: list[float] = []
    lock = threading.Lock()

    def record(seconds: float) -> None:
        with lock:
            sleeps.append(seconds)

    # A frozen clock: every reservation beyond the burst queues one more 1/rate behind.
    bucket = TokenBucket(10.0, 10, clock=lambda: 0.0, sleep=record)
    threads = [
        threading.Thread(target=lambda: [bucket.acquire() for _ in range(25)]) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(round(s, 6) for s in sleeps) == [round(n / 10, 6) for n in range(1, 191)]


def test_rate_limiter_is_used_by_the_client(make_client: MakeClient, fake_time: FakeTime) -> None:
    client = make_client(sequence(*[ok() for _ in range(3)]), rate_per_second=1, burst=1)
    for _ in range(3):
        client.get("/balances")
    assert fake_time.sleeps == [1.0, 1.0]


# -- counters --------------------------------------------------------------------------------


def test_counters() -> None:
    counters = Counters()
    counters.record_request("/payments")
    counters.record_request("/payments")
    counters.increment("retries")
    assert counters.snapshot() == {
        "requests": 2,
        "retries": 1,
        "rate_limited": 0,
        "server_errors": 0,
        "connection_errors": 0,
        "truncated_responses": 0,
        "circuit_opened": 0,
        "by_path": {"/payments": 2},
        "latency": {},
    }
    with pytest.raises(ValueError):
        counters.increment("nonsense")


@pytest.mark.parametrize(
    ("path", "family"),
    [
        ("/payments", "/payments"),
        ("/balances/bal_8xVRJxT3/transactions", "/balances/{id}/transactions"),
        ("/balances/bal_1/report?from=2026-01-01", "/balances/{id}/report"),
        ("/settlements/stl_jDk30akdN/payments", "/settlements/{id}/payments"),
        ("/organizations/me", "/organizations/{id}"),
        ("/", "/"),
    ],
)
def test_endpoint_family_drops_ids(path: str, family: str) -> None:
    assert endpoint_family(path) == family


def test_latency_histogram_is_cumulative_per_endpoint_family() -> None:
    counters = Counters()
    counters.observe_latency("/balances/bal_1/transactions", 0.003)
    counters.observe_latency("/balances/bal_2/transactions", 0.1)  # on a bound: that bucket
    counters.observe_latency("/balances/bal_2/transactions", 60.0)  # beyond the last: +Inf
    counters.observe_latency("/payments", 0.2)
    latency = counters.snapshot()["latency"]
    assert list(latency) == ["/balances/{id}/transactions", "/payments"]
    ledger = latency["/balances/{id}/transactions"]
    assert list(ledger["buckets"]) == [repr(b) for b in LATENCY_BUCKETS] + ["+Inf"]
    assert ledger["buckets"]["0.005"] == 1
    assert ledger["buckets"]["0.05"] == 1
    assert ledger["buckets"]["0.1"] == 2
    assert ledger["buckets"]["10.0"] == 2
    assert ledger["buckets"]["+Inf"] == ledger["count"] == 3
    assert ledger["sum"] == pytest.approx(60.103)
    assert latency["/payments"]["count"] == 1


def test_client_times_every_attempt(make_client: MakeClient) -> None:
    client = make_client(sequence(problem(500, "down"), ok()))
    client.get("/balances/bal_1")
    latency = client.counters.snapshot()["latency"]
    assert latency["/balances/{id}"]["count"] == 2  # the failed attempt and its retry
