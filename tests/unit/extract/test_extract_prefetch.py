"""Throughput helpers of the extract: page prefetch, one HTTP pool per thread, bounded_map."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
from mollie_fakes import BASE_URL, page

from extract.client import MollieClient
from extract.source import bounded_map

MakeClient = Callable[..., MollieClient]


class Pages:
    """Three linked pages of /payments, recording which were requested."""

    def __init__(self) -> None:
        self.urls = [f"{BASE_URL}/payments?limit=250"] + [
            f"{BASE_URL}/payments?from=tr_{n}&limit=250" for n in (2, 3)
        ]
        self.requested: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        with self._lock:
            self.requested.append(url)
        n = self.urls.index(url)
        nxt = self.urls[n + 1] if n + 1 < len(self.urls) else None
        return page("payments", [{"id": f"tr_{n + 1}"}], nxt)


def ids(pages) -> list[str]:
    return [item["id"] for p in pages for item in p]


def test_prefetch_gives_the_same_pages_in_order(make_client: MakeClient) -> None:
    pages = Pages()
    assert ids(make_client(pages).iter_pages("/payments", "payments", prefetch=True)) == [
        "tr_1",
        "tr_2",
        "tr_3",
    ]
    assert sorted(pages.requested) == sorted(pages.urls)  # each page once


def test_prefetch_predicate_sends_nothing_past_the_last_page_wanted(
    make_client: MakeClient,
) -> None:
    pages = Pages()
    walk = make_client(pages).iter_pages(
        "/payments", "payments", prefetch=lambda items: items[0]["id"] != "tr_2"
    )
    for items in walk:
        if items[0]["id"] == "tr_2":  # the caller stops here, as the predicate foresaw
            break
    walk.close()
    assert pages.requested == pages.urls[:2]


def test_each_thread_has_its_own_http_pool(make_client: MakeClient) -> None:
    client = make_client(Pages())
    seen: list[httpx.Client] = []
    thread = threading.Thread(target=lambda: seen.append(client._http))
    thread.start()
    thread.join()
    assert seen[0] is not client._http
    client.close()
    assert client._http.is_closed and seen[0].is_closed


def test_bounded_map_keeps_order_and_a_window() -> None:
    running = most = 0
    lock = threading.Lock()

    def work(n: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.005)
        with lock:
            running -= 1
        return n * n

    with ThreadPoolExecutor(max_workers=8) as pool:  # more workers than the window allows
        out = list(bounded_map(pool, work, range(20), window=3))
    assert out == [n * n for n in range(20)]
    assert most <= 3
