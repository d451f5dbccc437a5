"""MollieClient: headers, JSON decoding, pagination, testmode, concurrency."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from decimal import Decimal

import httpx
import pytest
from mollie_fakes import BASE_URL, SAMPLES_DIR, TOKEN, page, problem, sequence

from extract.client import MollieClient
from extract.errors import MollieInvalidResponseError, MollieNotFoundError

MakeClient = Callable[..., MollieClient]
NAMES = ["first", "second", "third", "fourth"]


class Recorder:
    """A MockTransport handler that records requests and answers from a URL → response map."""

    def __init__(self, routes: dict[str, Callable[[], httpx.Response]] | None = None) -> None:
        self.routes = routes or {}
        self.urls: list[str] = []
        self.requests: list[httpx.Request] = []
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.urls.append(str(request.url))
            self.requests.append(request)
        return self.routes[str(request.url)]()


def test_headers(make_client: MakeClient) -> None:
    recorder = Recorder({f"{BASE_URL}/organizations/me": lambda: httpx.Response(200, json={})})
    make_client(recorder).get("/organizations/me")
    headers = recorder.requests[0].headers
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["Accept"] == "application/hal+json"
    assert headers["User-Agent"] == "mollie-ledger/0.1"


def test_get_decodes_numbers_without_float(make_client: MakeClient) -> None:
    body = b'{"id": "x", "rate": 1.80, "count": 3}'
    client = make_client(sequence(httpx.Response(200, content=body)))
    data = client.get("payments/tr_1")  # a path without a leading slash works too
    assert data["rate"] == Decimal("1.80") and isinstance(data["rate"], Decimal)
    assert data["count"] == 3


def test_get_accepts_own_absolute_links(make_client: MakeClient) -> None:
    url = f"{BASE_URL}/settlements/stl_1/payments?limit=5"
    recorder = Recorder({url: lambda: page("payments", [])})
    make_client(recorder).get(url)
    assert recorder.urls == [url]


# -- pagination ------------------------------------------------------------------------------


def test_iter_pages_follows_next_verbatim(make_client: MakeClient) -> None:
    first = f"{BASE_URL}/payments?limit=250&profileId=pfl_1"
    second = f"{BASE_URL}/payments?profileId=pfl_1&from=tr_3&limit=250"
    # Odd but legal: parameter order changed, an encoded character, an extra parameter.
    third = f"{BASE_URL}/payments?from=tr_5&profileId=pfl_1&limit=250&x=a%2Cb"
    recorder = Recorder(
        {
            first: lambda: page("payments", [{"id": "tr_1"}, {"id": "tr_2"}], second),
            second: lambda: page("payments", [{"id": "tr_3"}, {"id": "tr_4"}], third),
            third: lambda: page("payments", [{"id": "tr_5"}], None),
        }
    )
    client = make_client(recorder)
    pages = list(client.iter_pages("/payments", "payments", {"profileId": "pfl_1"}))
    assert [[item["id"] for item in p] for p in pages] == [
        ["tr_1", "tr_2"],
        ["tr_3", "tr_4"],
        ["tr_5"],
    ]
    assert recorder.urls == [first, second, third]
    assert client.request_count("/payments") == 3


def test_iter_pages_stops_when_next_key_is_missing(make_client: MakeClient) -> None:
    nxt = f"{BASE_URL}/chargebacks?from=chb_2&limit=250"
    client = make_client(
        sequence(
            page("chargebacks", [{"id": "chb_1"}], nxt),
            page("chargebacks", [{"id": "chb_2"}], KeyError),  # no `next` key at all
        )
    )
    assert len(list(client.iter_pages("/chargebacks", "chargebacks"))) == 2
    assert client.counters.requests == 2


def test_iter_pages_stops_without_links(make_client: MakeClient) -> None:
    body = {"count": 1, "_embedded": {"refunds": [{"id": "re_1"}]}}
    client = make_client(sequence(httpx.Response(200, json=body)))
    assert list(client.iter_pages("/refunds", "refunds")) == [[{"id": "re_1"}]]


def test_iter_pages_fixture_chain(make_client: MakeClient) -> None:
    """Mollie's 4-page customers chain (5+5+5+2), served byte for byte; the last `next` is null."""
    raw = [(SAMPLES_DIR / f"customers_list_{n}.json").read_bytes() for n in NAMES]
    urls = [f"{BASE_URL}/customers?limit=250"]
    urls += [json.loads(body)["_links"]["next"]["href"] for body in raw[:-1]]
    pairs = zip(urls, raw, strict=True)
    recorder = Recorder(
        {url: (lambda b=body: httpx.Response(200, content=b)) for url, body in pairs}
    )
    client = make_client(recorder)
    sizes = [len(p) for p in client.iter_pages("/customers", "customers")]
    assert sizes == [5, 5, 5, 2]
    assert recorder.urls == urls
    assert client.request_count("/customers") == 4


def test_iter_pages_skips_empty_pages(make_client: MakeClient) -> None:
    client = make_client(sequence(page("payments", [])))
    assert list(client.iter_pages("/payments", "payments")) == []


def test_iter_pages_caller_limit_wins(make_client: MakeClient) -> None:
    recorder = Recorder({f"{BASE_URL}/payments?limit=5": lambda: page("payments", [])})
    list(make_client(recorder).iter_pages("/payments", "payments", {"limit": 5}))
    assert recorder.urls == [f"{BASE_URL}/payments?limit=5"]


def test_error_mid_pagination_is_raised_not_end_of_data(make_client: MakeClient) -> None:
    nxt = f"{BASE_URL}/payments?from=tr_2&limit=250"
    client = make_client(sequence(page("payments", [{"id": "tr_1"}], nxt), problem(404)))
    pages = client.iter_pages("/payments", "payments")
    assert next(pages) == [{"id": "tr_1"}]
    with pytest.raises(MollieNotFoundError):
        next(pages)


def test_next_link_to_another_host_is_refused(make_client: MakeClient) -> None:
    foreign = "https://api.mollie.nl/v2/invoices?from=inv_2&limit=250"
    client = make_client(sequence(page("invoices", [{"id": "inv_1"}], foreign)))
    pages = client.iter_pages("/invoices", "invoices")
    next(pages)
    with pytest.raises(MollieInvalidResponseError, match="refusing to send the token"):
        next(pages)
    assert client.counters.requests == 1  # the token never went to api.mollie.nl


def test_next_link_loop_is_refused(make_client: MakeClient) -> None:
    same = f"{BASE_URL}/refunds?limit=250"
    recorder = Recorder({same: lambda: page("refunds", [{"id": "re_1"}], same)})
    pages = make_client(recorder).iter_pages("/refunds", "refunds")
    next(pages)
    with pytest.raises(MollieInvalidResponseError, match="same page"):
        next(pages)


# -- testmode ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "testmode", "path", "sent"),
    [
        ("access_x", True, "/payments", True),
        ("access_x", True, "/balances/bal_1/transactions", True),
        ("access_x", True, "/settlements/stl_1/chargebacks", True),
        ("access_x", True, "/settlements", False),
        ("access_x", True, "/invoices", False),
        ("access_x", True, "/balances/primary", False),
        ("access_x", True, "/organizations/me", False),
        ("access_x", False, "/payments", False),
        ("test_x", True, "/payments", False),
        ("live_x", True, "/payments", False),
    ],
)
def test_testmode_rules(
    make_client: MakeClient, token: str, testmode: bool, path: str, sent: bool
) -> None:
    seen: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return httpx.Response(200, json={})

    make_client(handler, token=token, testmode=testmode).get(path)
    assert (seen[0].params.get("testmode") == "true") is sent


def test_testmode_not_added_to_next_hrefs(make_client: MakeClient) -> None:
    nxt = f"{BASE_URL}/payments?from=tr_2&limit=250"  # Mollie would keep testmode; verbatim
    recorder = Recorder(
        {
            f"{BASE_URL}/payments?limit=250&testmode=true": lambda: page(
                "payments", [{"id": "tr_1"}], nxt
            ),
            nxt: lambda: page("payments", [{"id": "tr_2"}]),
        }
    )
    list(make_client(recorder, testmode=True).iter_pages("/payments", "payments"))
    assert recorder.urls[1] == nxt


# -- lifecycle and threads -------------------------------------------------------------------


def test_context_manager_closes(make_client: MakeClient) -> None:
    client = make_client(sequence())
    with client as same:
        assert same is client
    assert client._http.is_closed
    assert TOKEN not in repr(client)


def test_shared_between_threads(make_client: MakeClient) -> None:
    """Bounded concurrency for settlement sub-lists: one client, a few threads."""
    routes: dict[str, Callable[[], httpx.Response]] = {}
    kinds = ["payments", "refunds", "chargebacks", "captures"]
    for kind in kinds:
        base = f"{BASE_URL}/settlements/stl_1/{kind}"
        nxt = f"{base}?from=x_2&limit=250"
        routes[f"{base}?limit=250"] = lambda k=kind, n=nxt: page(k, [{"id": f"{k}_1"}], n)
        routes[nxt] = lambda k=kind: page(k, [{"id": f"{k}_2"}])
    client = make_client(Recorder(routes))
    results: dict[str, list[str]] = {}

    def fetch(kind: str) -> None:
        pages = client.iter_pages(f"/settlements/stl_1/{kind}", kind)
        results[kind] = [item["id"] for p in pages for item in p]

    threads = [threading.Thread(target=fetch, args=(k,)) for k in kinds]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {k: [f"{k}_1", f"{k}_2"] for k in kinds}
    assert client.counters.requests == 8
    assert all(client.request_count(f"/settlements/stl_1/{k}") == 2 for k in kinds)
