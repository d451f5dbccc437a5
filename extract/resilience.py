"""Resilience for Mollie calls, in one place: rate limit, circuit breaker, retries, counters.

The client hands every request attempt to `Resilience.call`; nothing else in `extract/` sleeps or
retries. What is retried is decided by the error itself (`MollieError.retryable`: 429, 5xx,
connection errors and timeouts, truncated bodies), so 400/401/403/404/422 are never retried.
Clock and sleep are injectable so tests run instantly and can assert the waits.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from extract.errors import (
    MollieConnectionError,
    MollieError,
    MollieInvalidResponseError,
    MollieRateLimitError,
    MollieServerError,
    circuit_open_error,
)
from extract.settings import ClientSettings

T = TypeVar("T")
log = logging.getLogger(__name__)

# Backoff when Mollie gives no Retry-After: 0.5 s, 1 s, 2 s, … capped at 30 s, plus up to 0.5 s
# of jitter so parallel workers do not retry in lockstep (Mollie's generated SDKs start at 500 ms).
BACKOFF_INITIAL_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 30.0
BACKOFF_JITTER_SECONDS = 0.5
# A Retry-After longer than this ends the retries: a run should fail and be re-scheduled rather
# than hang for an hour.
MAX_RETRY_AFTER_SECONDS = 300.0

Sleep = Callable[[float], None]
Clock = Callable[[], float]

# Upper bounds (seconds) of the request-latency histogram: Prometheus' default buckets, which span
# a quick page (tens of ms) to a slow report or a stalled connection (10 s); +Inf is implicit.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or HTTP-date).

    Args:
        value: the header value, or None when absent.
        now: the current time for HTTP-dates (tests pass it).

    Returns:
        Non-negative seconds, or None when the header is absent or unreadable.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def endpoint_family(path: str) -> str:
    """The endpoint a path belongs to, with its ids replaced: "/balances/{id}/transactions".

    Mollie paths alternate collection and identifier (`/balances/bal_x/transactions`,
    `/settlements/stl_x/payments`, `/organizations/me`), so every second segment is replaced by
    `{id}`. Latency is labelled by this family: the label values stay the few collections the
    source reads, however many balances or settlements there are (a metrics label must be
    bounded).
    """
    segments = [s for s in path.split("?", 1)[0].split("/") if s]
    return "/" + "/".join("{id}" if i % 2 else s for i, s in enumerate(segments))


def is_retryable(exc: BaseException) -> bool:
    """The retry predicate: only errors that say a new attempt may succeed."""
    return isinstance(exc, MollieError) and exc.retryable


# The request counters of a run that are reported outside the extract (Dagster metadata, the
# Prometheus metrics): attempts, retries, 429s and 5xx.
API_COUNTERS = ("requests", "retries", "rate_limited", "server_errors")


class Counters:
    """Thread-safe request counters the caller reads for progress, metrics and tests.

    Attributes:
        requests: request attempts sent (retries included).
        retries: attempts that were retried after a wait.
        rate_limited: 429 answers.
        server_errors: 5xx answers.
        connection_errors: attempts with no HTTP answer (refused, reset, timeout).
        truncated_responses: answers whose body was cut off.
        circuit_opened: times the circuit breaker opened.
        by_path: attempts per path relative to the API base, e.g. {"/payments": 3}.

    Request latency is kept as a histogram per endpoint family (`observe_latency`) in
    LATENCY_BUCKETS, so a run's latency can be exported without keeping every sample.
    """

    _FIELDS = (
        "requests",
        "retries",
        "rate_limited",
        "server_errors",
        "connection_errors",
        "truncated_responses",
        "circuit_opened",
    )

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self.retries = 0
        self.rate_limited = 0
        self.server_errors = 0
        self.connection_errors = 0
        self.truncated_responses = 0
        self.circuit_opened = 0
        self.by_path: Counter[str] = Counter()
        # endpoint family → attempts per bucket of LATENCY_BUCKETS, the last one +Inf (not
        # cumulative: snapshot() accumulates), and the total seconds.
        self._latency_counts: dict[str, list[int]] = {}
        self._latency_seconds: dict[str, float] = {}

    def increment(self, name: str) -> None:
        """Add one to the counter `name` (one of the attributes above)."""
        if name not in self._FIELDS:
            raise ValueError(f"unknown counter {name!r}")
        with self._lock:
            setattr(self, name, getattr(self, name) + 1)

    def record_request(self, path: str) -> None:
        """Count one attempt against `path`."""
        with self._lock:
            self.requests += 1
            self.by_path[path] += 1

    def observe_latency(self, path: str, seconds: float) -> None:
        """Record how long one attempt against `path` took (answer or error alike)."""
        endpoint = endpoint_family(path)
        # bisect_left: a duration equal to a bound belongs in that bucket (Prometheus' `le`).
        bucket = bisect.bisect_left(LATENCY_BUCKETS, seconds)
        with self._lock:
            counts = self._latency_counts.setdefault(endpoint, [0] * (len(LATENCY_BUCKETS) + 1))
            counts[bucket] += 1
            self._latency_seconds[endpoint] = self._latency_seconds.get(endpoint, 0.0) + seconds

    def snapshot(self) -> dict[str, object]:
        """A consistent, JSON-ready copy of all counters (for metrics and Dagster metadata).

        `latency` maps each endpoint family to Prometheus-style cumulative buckets
        (`{"0.005": n, …, "+Inf": count}`), the attempt `count` and the `sum` of seconds.
        """
        with self._lock:
            data: dict[str, object] = {name: getattr(self, name) for name in self._FIELDS}
            data["by_path"] = dict(self.by_path)
            data["latency"] = {
                endpoint: _cumulative(counts, self._latency_seconds[endpoint])
                for endpoint, counts in sorted(self._latency_counts.items())
            }
        return data

    def __repr__(self) -> str:
        return f"Counters({self.snapshot()})"


def _cumulative(counts: list[int], seconds: float) -> dict[str, object]:
    bounds = [repr(bound) for bound in LATENCY_BUCKETS] + ["+Inf"]
    running, buckets = 0, {}
    for bound, n in zip(bounds, counts, strict=True):
        running += n
        buckets[bound] = running
    return {"buckets": buckets, "count": running, "sum": round(seconds, 6)}


class TokenBucket:
    """Thread-safe token-bucket rate limiter.

    Each `acquire` reserves a token under the lock (the balance may go negative) and sleeps
    outside it for the time the reservation needs to be covered, so concurrent callers queue
    fairly and the long-run rate never exceeds `rate` requests per second.
    """

    def __init__(
        self, rate: float, burst: int, *, clock: Clock = time.monotonic, sleep: Sleep = time.sleep
    ) -> None:
        """Create a bucket.

        Args:
            rate: tokens added per second; 0 disables limiting.
            burst: capacity; the bucket starts full.
            clock: monotonic seconds.
            sleep: blocking sleep.
        """
        self._rate = rate
        self._burst = float(burst)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(burst)
        self._last = clock()

    def acquire(self) -> float:
        """Take one token, sleeping until it is available; returns the seconds waited."""
        if self._rate <= 0:
            return 0.0
        with self._lock:
            now = self._clock()
            self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
            self._last = now
            self._tokens -= 1.0
            wait = -self._tokens / self._rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
        return wait


class CircuitBreaker:
    """Opens after `threshold` consecutive failed requests and then refuses every call.

    After `reset_seconds` one probe request is let through (half-open): success closes the
    circuit, failure opens it again. Any answer that is not a retryable failure counts as success:
    a 404 still proves the API is up.
    """

    def __init__(self, threshold: int, reset_seconds: float, *, clock: Clock = time.monotonic):
        """Create a closed breaker.

        Args:
            threshold: consecutive failures that open the circuit.
            reset_seconds: seconds the circuit stays open before a probe is allowed.
            clock: monotonic seconds.
        """
        self._threshold = threshold
        self._reset_seconds = reset_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False
        self._last_failure = ""

    @property
    def is_open(self) -> bool:
        """Whether the circuit is open (refusing calls, or waiting for its probe)."""
        with self._lock:
            return self._failures >= self._threshold

    def before_request(self) -> None:
        """Raise `MollieCircuitOpenError` unless a request may go out now."""
        with self._lock:
            if self._failures < self._threshold:
                return
            if not self._probing and self._clock() - self._opened_at >= self._reset_seconds:
                self._probing = True  # half-open: exactly one probe at a time
                return
            raise self._error()

    def record_success(self) -> None:
        """The API answered: close the circuit."""
        with self._lock:
            self._failures = 0
            self._probing = False

    def record_failure(self, description: str) -> bool:
        """Count a failed request; returns True when the circuit is (now) open."""
        with self._lock:
            self._failures += 1
            self._last_failure = description
            self._probing = False
            if self._failures >= self._threshold:
                self._opened_at = self._clock()
                return True
            return False

    def error(self) -> MollieError:
        """The error to end the run with."""
        with self._lock:
            return self._error()

    def _error(self) -> MollieError:
        return circuit_open_error(self._failures, self._last_failure, self._reset_seconds)


class _WaitRetryAfterOrBackoff(wait_base):
    """Wait exactly what Mollie asked for (`Retry-After`), else exponential backoff with jitter."""

    def __init__(self) -> None:
        self._backoff = wait_exponential_jitter(
            initial=BACKOFF_INITIAL_SECONDS,
            max=BACKOFF_MAX_SECONDS,
            jitter=BACKOFF_JITTER_SECONDS,
        )

    def __call__(self, retry_state: RetryCallState) -> float:
        retry_after = _retry_after(retry_state)
        return retry_after if retry_after is not None else self._backoff(retry_state)


class _StopIfRetryAfterTooLong(stop_base):
    """Give up instead of sleeping longer than MAX_RETRY_AFTER_SECONDS."""

    def __call__(self, retry_state: RetryCallState) -> bool:
        retry_after = _retry_after(retry_state)
        return retry_after is not None and retry_after > MAX_RETRY_AFTER_SECONDS


def _retry_after(retry_state: RetryCallState) -> float | None:
    outcome = retry_state.outcome
    exc = outcome.exception() if outcome is not None else None
    return exc.retry_after if isinstance(exc, MollieError) else None


# Which counter each retryable failure increments.
_FAILURE_COUNTERS: tuple[tuple[type[MollieError], str], ...] = (
    (MollieRateLimitError, "rate_limited"),
    (MollieServerError, "server_errors"),
    (MollieConnectionError, "connection_errors"),
    (MollieInvalidResponseError, "truncated_responses"),
)


class Resilience:
    """Runs request attempts under the rate limiter, the circuit breaker and the retry policy.

    One instance is shared by all threads of a client.
    """

    def __init__(
        self,
        settings: ClientSettings,
        *,
        counters: Counters | None = None,
        sleep: Sleep = time.sleep,
        clock: Clock = time.monotonic,
    ) -> None:
        """Create the policy from settings.

        Args:
            settings: supplies max_retries, rate_per_second, burst and the breaker settings.
            counters: where to count; a fresh `Counters` by default.
            sleep: blocking sleep used for backoff and rate limiting (tests record it).
            clock: monotonic seconds for the bucket and the breaker.
        """
        self.counters = counters or Counters()
        self.limiter = TokenBucket(
            settings.rate_per_second, settings.burst, clock=clock, sleep=sleep
        )
        self.breaker = CircuitBreaker(
            settings.breaker_threshold, settings.breaker_reset_seconds, clock=clock
        )
        self._max_retries = settings.max_retries
        self._sleep = sleep

    def call(self, attempt: Callable[[], T]) -> T:
        """Run `attempt` until it succeeds, fails for good, or the circuit opens.

        Args:
            attempt: sends one request and returns its result or raises a `MollieError`.

        Returns:
            What `attempt` returned.

        Raises:
            MollieError: the last attempt's error (typed), or `MollieCircuitOpenError`.
        """
        retrying = Retrying(
            retry=retry_if_exception(is_retryable),
            stop=stop_after_attempt(self._max_retries + 1) | _StopIfRetryAfterTooLong(),
            wait=_WaitRetryAfterOrBackoff(),
            sleep=self._sleep,
            before_sleep=self._before_sleep,
            reraise=True,
        )
        return retrying(self._guarded, attempt)

    def _guarded(self, attempt: Callable[[], T]) -> T:
        self.breaker.before_request()
        self.limiter.acquire()
        try:
            result = attempt()
        except Exception as exc:
            if not isinstance(exc, MollieError) or not exc.retryable:
                self.breaker.record_success()  # Mollie answered; the request itself was wrong
                raise
            for cls, counter in _FAILURE_COUNTERS:
                if isinstance(exc, cls):
                    self.counters.increment(counter)
                    break
            if self.breaker.record_failure(exc.summary):
                self.counters.increment("circuit_opened")
                raise self.breaker.error() from exc
            raise
        self.breaker.record_success()
        return result

    def _before_sleep(self, state: RetryCallState) -> None:
        self.counters.increment("retries")
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        # Summaries hold the status and the path only, never the token.
        what = exc.summary if isinstance(exc, MollieError) else type(exc).__name__
        log.warning(
            "Mollie: %s; retry %d of %d in %.1fs",
            what,
            state.attempt_number,
            self._max_retries,
            wait,
        )
