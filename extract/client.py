"""`MollieClient`: authenticated GETs and page iteration against the Mollie API v2.

The client turns HTTP into either a JSON object or a typed `MollieError`; it never treats an
error as "no data". Retries, rate limiting and the circuit breaker live in `extract.resilience`;
this module only sends one attempt at a time through it.

Pagination follows `_links.next.href` verbatim (Mollie keeps every other query parameter in it)
and yields whole pages, so memory stays flat however long the history.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from decimal import Decimal
from types import TracebackType
from typing import Any

import httpx

from extract.errors import (
    MollieError,
    connection_error,
    error_for_response,
    invalid_response_error,
    missing_token_error,
    profile_key_error,
)
from extract.resilience import Clock, Counters, Resilience, Sleep, parse_retry_after
from extract.settings import (
    MAX_CONNECTIONS,
    PAGE_SIZE,
    USER_AGENT,
    ClientSettings,
    accepts_testmode,
    is_org_only,
)

Params = Mapping[str, str | int]
# `iter_pages(prefetch=…)`: always, never, or when a page's items say the walk goes on.
Prefetch = bool | Callable[[list[dict[str, Any]]], bool]

# No HTTP answer at all: retried as connection errors. (UnsupportedProtocol and
# LocalProtocolError are bugs in our request, not transient, so they propagate as they are.)
_NO_ANSWER_ERRORS = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
    httpx.ProxyError,
)
# The headers arrived but the body did not, completely: a truncated response.
_TRUNCATED_BODY_ERRORS = (httpx.RemoteProtocolError, httpx.ReadError)


class MollieClient:
    """A thread-safe Mollie API client.

    Safe to share between a few threads (e.g. bounded concurrent settlement sub-lists): each
    thread gets its own httpx connection pool; the rate limiter, the breaker and the counters
    are shared and thread-safe.

    Example:
        >>> with MollieClient(ClientSettings.from_env()) as client:  # doctest: +SKIP
        ...     for page in client.iter_pages("/balances", "balances"):
        ...         ...
    """

    def __init__(
        self,
        settings: ClientSettings | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        counters: Counters | None = None,
        sleep: Sleep = time.sleep,
        clock: Clock = time.monotonic,
    ) -> None:
        """Create a client.

        Args:
            settings: connection settings; read from the environment when omitted.
            transport: httpx transport override (tests pass `httpx.MockTransport`).
            counters: shared counters; a fresh `Counters` by default.
            sleep: blocking sleep for backoff and rate limiting (tests inject a recorder).
            clock: monotonic seconds for the rate limiter and circuit breaker.

        Raises:
            MollieAuthError: no token is configured.
        """
        self.settings = settings or ClientSettings.from_env()
        if not self.settings.token:
            raise missing_token_error()
        self._base = httpx.URL(self.settings.base_url)
        self._base_path = self._base.path.rstrip("/")
        self._resilience = Resilience(self.settings, counters=counters, sleep=sleep, clock=clock)
        self._transport = transport
        # One httpx client (connection pool) per thread. Sharing one pool between threads races:
        # httpcore's `has_expired` reads an idle connection's state, then polls its socket,
        # without the connection's lock; if another thread starts a request on it in between
        # and the answer arrives, the first thread takes it for a server disconnect and closes
        # the socket mid-read (EBADF, then a retry with backoff: a few per full extract).
        self._local = threading.local()
        self._clients: list[httpx.Client] = []
        self._clients_lock = threading.Lock()
        self._closed = False
        self._ahead: ThreadPoolExecutor | None = None  # prefetches pages; made when first asked
        self._local.client = self._new_http()  # the creating thread's, made eagerly

    @property
    def counters(self) -> Counters:
        """Request, retry and failure counters (thread-safe)."""
        return self._resilience.counters

    def request_count(self, path: str) -> int:
        """Attempts sent to `path` (relative to the API base, e.g. "/payments")."""
        return self.counters.by_path[path]

    def get(self, path_or_url: str, params: Params | None = None) -> dict[str, Any]:
        """GET one JSON object.

        Args:
            path_or_url: a path relative to the API base ("/settlements/open") or an absolute
                URL on the same host (e.g. a `_links` href).
            params: query parameters, merged into the URL. `testmode=true` is added when
                settings ask for it, the token is an `access_` token and the endpoint has it.

        Returns:
            The decoded object; JSON numbers with a fraction are `Decimal`, never float.

        Raises:
            MollieError: a typed error for every non-2xx or unusable answer.
        """
        return self._fetch(self._compose(path_or_url, params))

    def iter_pages(
        self,
        path: str,
        embedded_key: str,
        params: Params | None = None,
        *,
        prefetch: Prefetch = False,
    ) -> Iterator[list[dict[str, Any]]]:
        """Yield each page's items of a list endpoint, following `_links.next.href` verbatim.

        The first request asks for `limit=250` (unless `params` sets `limit`); every later one
        is exactly the `next` href Mollie returned. Stops when `next` is null or missing. Empty
        pages are not yielded.

        Args:
            path: the list endpoint, e.g. "/balances/bal_x/transactions".
            embedded_key: the key under `_embedded`, e.g. "balance_transactions".
            params: extra query parameters for the first request.
            prefetch: request the next page while the caller works on this one, so waiting for
                Mollie overlaps with mapping and writing. True for a walk that is read to the
                end; or a predicate on a page's items that says the caller will read on (a
                caller that stops early would otherwise have sent one request too many).

        Yields:
            The list of item objects on each page.

        Raises:
            MollieError: any error answer (a 4xx mid-way is raised, never read as the end) or a
                page without `_embedded.<embedded_key>` list.
        """
        url = self._compose(path, {"limit": PAGE_SIZE, **(params or {})})
        page = self._fetch(url)
        while True:
            items = self._embedded_items(page, embedded_key, url)
            href = _next_href(page)
            next_url = httpx.URL(href) if href is not None else None
            ahead: Future[dict[str, Any]] | None = None
            if next_url not in (None, url) and (prefetch is True or (prefetch and prefetch(items))):
                ahead = self._prefetcher().submit(self._fetch, next_url)
            try:
                if items:
                    yield items
            except BaseException:  # the caller stopped (GeneratorExit) or failed
                if ahead is not None:
                    ahead.cancel()  # drop the next page if it is not sent yet
                raise
            if next_url is None:
                return
            if next_url == url:
                raise self._invalid(f"`_links.next` points back at the same page {href}", url)
            url = next_url
            page = ahead.result() if ahead is not None else self._fetch(url)

    def close(self) -> None:
        """Close every thread's connection pool (and stop prefetching)."""
        with self._clients_lock:
            self._closed = True
            clients, self._clients = self._clients, []
            prefetcher, self._ahead = self._ahead, None
        if prefetcher is not None:
            prefetcher.shutdown(wait=False, cancel_futures=True)
        for client in clients:
            client.close()

    def __enter__(self) -> MollieClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        # Deliberately no token, not even its prefix.
        return f"MollieClient(base_url={self.settings.base_url!r})"

    # -- internals -------------------------------------------------------------------------

    @property
    def _http(self) -> httpx.Client:
        """This thread's httpx client, made on its first request (see `__init__`)."""
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = self._new_http()
        return client

    def _prefetcher(self) -> ThreadPoolExecutor:
        with self._clients_lock:
            if self._ahead is None:
                # One page ahead per walk; a few walks run at once (settlement sub-lists).
                self._ahead = ThreadPoolExecutor(MAX_CONNECTIONS, thread_name_prefix="mollie-ahead")
            return self._ahead

    def _new_http(self) -> httpx.Client:
        client = httpx.Client(
            headers={
                "Authorization": f"Bearer {self.settings.token}",
                "Accept": "application/hal+json",
                "User-Agent": USER_AGENT,
            },
            timeout=self.settings.timeout,
            transport=self._transport,
            limits=httpx.Limits(max_connections=MAX_CONNECTIONS),
            follow_redirects=False,  # a redirect would carry the token to wherever it points
        )
        with self._clients_lock:
            if self._closed:  # like one closed httpx client: no requests after close()
                client.close()
            else:
                self._clients.append(client)
        return client

    def _compose(self, path_or_url: str, params: Params | None) -> httpx.URL:
        """The URL for a request we build ourselves (not a verbatim `next` href)."""
        if "://" in path_or_url:
            url = httpx.URL(path_or_url)
        else:
            url = httpx.URL(f"{self.settings.base_url}/{path_or_url.lstrip('/')}")
        query = dict(params or {})
        if self._wants_testmode(self._relative_path(url)):
            query.setdefault("testmode", "true")
        return url.copy_merge_params(query) if query else url

    def _is_own(self, url: httpx.URL) -> bool:
        """Whether `url` is under the configured API base (same scheme, host, port, path)."""
        same_origin = (url.scheme, url.host, url.port) == (
            self._base.scheme,
            self._base.host,
            self._base.port,
        )
        return same_origin and (url.path + "/").startswith(self._base_path + "/")

    def _relative_path(self, url: httpx.URL) -> str:
        return url.path[len(self._base_path) :] or "/"

    def _label(self, url: httpx.URL) -> str:
        """ "GET /path?query" relative to the base, for messages (never holds the token)."""
        if not self._is_own(url):
            return f"GET {url}"
        query = url.query.decode("ascii", "replace")
        return f"GET {self._relative_path(url)}" + (f"?{query}" if query else "")

    def _wants_testmode(self, path: str) -> bool:
        # Profile keys are fixed to one mode and must not send testmode (Mollie's OpenAPI spec and
        # its Python SDK).
        return (
            self.settings.testmode
            and self.settings.token_kind == "organization"
            and accepts_testmode(path)
        )

    def _invalid(self, reason: str, url: httpx.URL, **kwargs: Any) -> MollieError:
        return invalid_response_error(
            reason,
            request=self._label(url),
            base_url=self.settings.base_url,
            token=self.settings.token,
            **kwargs,
        )

    def _fetch(self, url: httpx.URL) -> dict[str, Any]:
        """Checks that hold for every request, then the request under the resilience policy."""
        if not self._is_own(url):
            # Never send the bearer token to another host (fixture links mix api.mollie.nl).
            raise self._invalid(
                f"the link is outside {self.settings.base_url}; refusing to send the token there",
                url,
            )
        path = self._relative_path(url)
        if self.settings.token_kind == "profile" and is_org_only(path):
            raise profile_key_error(self.settings.token, self._label(url))
        return self._resilience.call(lambda: self._attempt(url, path))

    def _attempt(self, url: httpx.URL, path: str) -> dict[str, Any]:
        """One HTTP attempt: counted, timed, and mapped to a dict or a typed error."""
        self.counters.record_request(path)
        # Wall time from sending to the last byte of the body, failed attempts included (a slow
        # 5xx or a timeout is latency too); perf_counter, not the injectable clock, because this
        # measures the network, while that clock drives the rate limiter and the breaker.
        started = time.perf_counter()
        try:
            response, body = self._send(url)
        finally:
            self.counters.observe_latency(path, time.perf_counter() - started)
        return self._decode(response, body, url, path)

    def _send(self, url: httpx.URL) -> tuple[httpx.Response, bytes]:
        """Send one GET and read its whole body; no answer or a cut-off body is a typed error."""
        request = self._label(url)
        try:
            with self._http.stream("GET", url) as response:
                try:
                    body = response.read()
                except _TRUNCATED_BODY_ERRORS as exc:
                    raise self._invalid(
                        f"the body was cut off ({type(exc).__name__})",
                        url,
                        status=response.status_code,
                        retryable=True,
                    ) from None
        except _NO_ANSWER_ERRORS as exc:
            # `from None`: the message carries the cause, redacted; a chained httpx error would
            # print unredacted in tracebacks.
            raise connection_error(
                exc, request=request, base_url=self.settings.base_url, token=self.settings.token
            ) from None
        return response, body

    def _decode(
        self, response: httpx.Response, body: bytes, url: httpx.URL, path: str
    ) -> dict[str, Any]:
        status = response.status_code
        if status >= 400:
            raise error_for_response(
                status,
                body,
                request=self._label(url),
                path=path,
                token=self.settings.token,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        if 300 <= status < 400:
            location = response.headers.get("Location", "?")
            raise self._invalid(f"a {status} redirect to {location}", url, status=status)
        try:
            # parse_float=Decimal: any JSON number with a fraction stays exact.
            data = json.loads(body, parse_float=Decimal)
        except ValueError:
            raise self._invalid_body(response, body, url) from None
        if not isinstance(data, dict):
            raise self._invalid(f"JSON {type(data).__name__} instead of an object", url)
        return data

    def _invalid_body(self, response: httpx.Response, body: bytes, url: httpx.URL) -> MollieError:
        """Classify a 2xx body that is not JSON: cut off (retryable) or something else."""
        text = body.lstrip()
        content_type = response.headers.get("Content-Type", "")
        status = response.status_code
        if "html" in content_type or text[:1] == b"<":
            return self._invalid(f"an HTML page (HTTP {status}) instead of JSON", url)
        if not text or text[:1] in (b"{", b"["):
            return self._invalid(
                f"incomplete JSON ({len(body)} bytes, HTTP {status})",
                url,
                status=status,
                retryable=True,
            )
        return self._invalid(f"a {content_type or 'untyped'} body that is not JSON", url)

    def _embedded_items(
        self, page: Mapping[str, Any], embedded_key: str, url: httpx.URL
    ) -> list[dict[str, Any]]:
        embedded = page.get("_embedded")
        items = embedded.get(embedded_key) if isinstance(embedded, dict) else None
        if not isinstance(items, list):
            raise self._invalid(f"no `_embedded.{embedded_key}` list in a list response", url)
        return items


def _next_href(page: Mapping[str, Any]) -> str | None:
    """`_links.next.href`, treating a missing `_links` or `next` like `next: null`."""
    links = page.get("_links")
    nxt = links.get("next") if isinstance(links, dict) else None
    href = nxt.get("href") if isinstance(nxt, dict) else None
    return href if isinstance(href, str) and href else None
