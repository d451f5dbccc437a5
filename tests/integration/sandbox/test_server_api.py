"""The sandbox speaks Mollie's HTTP dialect: pagination, auth, errors and faults, over real HTTP."""

from __future__ import annotations

import time
from collections import Counter
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from sandbox.generate import SandboxConfig
from sandbox.server import DEFAULT_ACCESS_TOKEN, FaultConfig, SandboxServer

CONFIG = SandboxConfig.from_cli(seed=7, payments=600, days=45, now="2026-11-01T00:00:00Z")
ORG = {"Authorization": f"Bearer {DEFAULT_ACCESS_TOKEN}"}


@pytest.fixture(scope="module")
def server():
    with SandboxServer(CONFIG) as s:
        yield s


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(headers=ORG, timeout=30) as client:
        yield client


def newest_first(objs) -> list[str]:
    def key(o):
        created = getattr(o, "created_at", None)
        return (o.issued_at if created is None else created, o.id)

    return [o.id for o in sorted(objs, key=key, reverse=True)]


def walk(http: httpx.Client, url: str, key: str, **params) -> list[str]:
    """Follow `_links.next` to the end; check each page's envelope on the way."""
    ids: list[str] = []
    response = http.get(url, params=params)
    while True:
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/hal+json"
        body = response.json()
        page = body["_embedded"][key]
        assert body["count"] == len(page)
        assert len(page) <= int(params.get("limit", 50))
        assert set(body["_links"]) == {"self", "previous", "next", "documentation"}
        ids.extend(o["id"] for o in page)
        nxt = body["_links"]["next"]
        if nxt is None:
            return ids
        response = http.get(nxt["href"])


def expected_lists(server: SandboxServer) -> dict[str, tuple[str, list[str]]]:
    w = server.world
    settlement = max(w.settlements, key=lambda s: len(s.payment_ids))
    per_customer = Counter(p.customer_id for p in w.payments if p.customer_id)
    customer = w.by_id[per_customer.most_common(1)[0][0]]
    sub = max(w.subscriptions, key=lambda s: len(s.charges))
    out = {
        "/balances": ("balances", newest_first(w.balances)),
        "/settlements": ("settlements", newest_first(w.settlements)),
        "/invoices": ("invoices", newest_first(w.invoices)),
        "/payments": ("payments", newest_first(w.payments)),
        "/refunds": ("refunds", newest_first(w.refunds)),
        "/chargebacks": ("chargebacks", newest_first(w.chargebacks)),
        "/customers": ("customers", newest_first(w.customers)),
        "/subscriptions": ("subscriptions", newest_first(w.subscriptions)),
        "/profiles": ("profiles", newest_first(w.profiles)),
        f"/settlements/{settlement.id}/payments": (
            "payments",
            newest_first(w.by_id[x] for x in settlement.payment_ids),
        ),
        f"/settlements/{settlement.id}/refunds": (
            "refunds",
            newest_first(w.by_id[x] for x in settlement.refund_ids),
        ),
        f"/customers/{customer.id}/payments": (
            "payments",
            newest_first(p for p in w.payments if p.customer_id == customer.id),
        ),
        f"/customers/{sub.customer_id}/subscriptions": (
            "subscriptions",
            newest_first(s for s in w.subscriptions if s.customer_id == sub.customer_id),
        ),
        f"/customers/{sub.customer_id}/subscriptions/{sub.id}/payments": (
            "payments",
            newest_first(w.by_id[x] for x in sub.charges),
        ),
    }
    for b in w.balances:
        out[f"/balances/{b.id}/transactions"] = (
            "balance_transactions",
            newest_first(r for r in w.transactions if r.balance_id == b.id),
        )
    return out


@pytest.mark.parametrize("limit", [250, 7])
def test_every_list_walks_to_exactly_the_world(server, http, limit):
    for path, (key, expected) in expected_lists(server).items():
        got = walk(http, server.base_url + path, key, limit=limit)
        assert len(got) == len(set(got)), f"{path}: duplicates"
        assert got == expected, f"{path}: differs from the world (gap or order)"
        assert expected, f"{path}: empty list proves nothing"


def test_sort_asc_where_mollie_has_it(server, http):
    asc = walk(http, f"{server.base_url}/payments", "payments", limit=250, sort="asc")
    assert asc == list(reversed(newest_first(server.world.payments)))
    bad = http.get(f"{server.base_url}/payments", params={"sort": "sideways"})
    assert bad.status_code == 400 and bad.json()["field"] == "sort"


def test_from_is_an_inclusive_cursor_and_previous_links_back(server, http):
    url = f"{server.base_url}/payments"
    first = http.get(url, params={"limit": 5}).json()
    nxt = first["_links"]["next"]["href"]
    cursor = parse_qs(urlsplit(nxt).query)["from"][0]
    second = http.get(url, params={"from": cursor, "limit": 5}).json()
    assert second["_embedded"]["payments"][0]["id"] == cursor
    assert second == http.get(nxt).json()
    previous = second["_links"]["previous"]["href"]
    assert parse_qs(urlsplit(previous).query)["from"][0] == first["_embedded"]["payments"][0]["id"]
    assert http.get(previous).json()["_embedded"] == first["_embedded"]
    assert first["_links"]["previous"] is None


@pytest.mark.parametrize("limit", ["0", "251", "x", "-1", "2.5"])
def test_bad_limit_is_a_400_problem(server, http, limit):
    r = http.get(f"{server.base_url}/payments", params={"limit": limit})
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/hal+json"
    body = r.json()
    assert body["status"] == 400 and body["title"] == "Bad Request" and body["field"] == "limit"
    assert body["detail"] and body["_links"]["documentation"]["href"].startswith("https://")


def test_unknown_cursor_is_a_400_on_from(server, http):
    for cursor in ("tr_doesnotexist", server.world.refunds[0].id):
        r = http.get(f"{server.base_url}/payments", params={"from": cursor})
        assert r.status_code == 400 and r.json()["field"] == "from"


def test_links_use_the_request_host_and_keep_parameters(server, http):
    profile = server.world.profiles[0].id
    r = http.get(
        f"{server.base_url}/payments",
        params={"profileId": profile, "sort": "asc", "limit": 3},
        headers={"Host": "mollie.sandbox.test:8080", "X-Forwarded-Proto": "https"},
    )
    body = r.json()
    nxt = urlsplit(body["_links"]["next"]["href"])
    assert (nxt.scheme, nxt.netloc, nxt.path) == (
        "https",
        "mollie.sandbox.test:8080",
        "/v2/payments",
    )
    q = parse_qs(nxt.query)
    assert q["profileId"] == [profile] and q["sort"] == ["asc"] and q["limit"] == ["3"]
    assert q["from"][0] not in {p["id"] for p in body["_embedded"]["payments"]}
    assert body["_links"]["self"]["href"].startswith(
        "https://mollie.sandbox.test:8080/v2/payments?"
    )
    obj = body["_embedded"]["payments"][0]
    assert obj["_links"]["self"]["href"].startswith("https://mollie.sandbox.test:8080/v2/")
    # And plain requests get links to where they came from.
    plain = http.get(f"{server.base_url}/payments", params={"limit": 3}).json()
    assert plain["_links"]["next"]["href"].startswith(f"{server.base_url}/payments?")


def test_profile_filter_with_organization_token(server, http):
    w = server.world
    for profile in w.profiles:
        got = walk(http, f"{server.base_url}/payments", "payments", limit=250, profileId=profile.id)
        assert got == newest_first(p for p in w.payments if p.profile_id == profile.id)
    r = http.get(f"{server.base_url}/payments", params={"profileId": "pfl_nope"})
    assert r.status_code == 404


UNAUTHORIZED = {
    "status": 401,
    "title": "Unauthorized Request",
    "detail": "Missing authentication, or failed to authenticate",
}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer access_wrong"},
        {"Authorization": "Bearer live_wrong"},
        {"Authorization": f"Basic {DEFAULT_ACCESS_TOKEN}"},
        {"Authorization": "Bearer"},
    ],
)
def test_missing_or_unknown_token_is_401(server, headers):
    r = httpx.get(f"{server.base_url}/payments", headers=headers)
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/hal+json"
    body = r.json()
    assert {k: body[k] for k in UNAUTHORIZED} == UNAUTHORIZED
    assert body["_links"]["documentation"]["type"] == "text/html"


@pytest.mark.parametrize(
    "path",
    [
        "/balances",
        "/balances/primary",
        "/balances/primary/transactions",
        "/settlements",
        "/settlements/open",
        "/invoices",
        "/organizations/me",
        "/profiles",
    ],
)
def test_profile_key_is_refused_on_organization_endpoints(server, path):
    key = next(iter(server.profile_keys.values()))
    assert key.startswith("live_")
    r = httpx.get(server.base_url + path, headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 403
    body = r.json()
    assert body["status"] == 403 and "organization access token" in body["detail"]


def test_profile_key_reads_its_own_profile_only(server):
    w = server.world
    for profile_id, key in server.profile_keys.items():
        with httpx.Client(headers={"Authorization": f"Bearer {key}"}) as client:
            mine = {p.id for p in w.payments if p.profile_id == profile_id}
            got = walk(client, f"{server.base_url}/payments", "payments", limit=250)
            assert set(got) == mine and len(got) == len(mine)
            refunds = walk(client, f"{server.base_url}/refunds", "refunds", limit=250)
            assert {
                r.id for r in w.refunds if w.by_id[r.payment_id].profile_id == profile_id
            } == set(refunds)
            chargebacks = walk(client, f"{server.base_url}/chargebacks", "chargebacks", limit=250)
            assert {
                c.id for c in w.chargebacks if w.by_id[c.payment_id].profile_id == profile_id
            } == set(chargebacks)
            customers = walk(client, f"{server.base_url}/customers", "customers", limit=250)
            assert {c.id for c in w.customers if c.profile_id == profile_id} == set(customers)
            subs = walk(client, f"{server.base_url}/subscriptions", "subscriptions", limit=250)
            assert {s.id for s in w.subscriptions if s.profile_id == profile_id} == set(subs)
            other = next(p for p in w.payments if p.profile_id != profile_id)
            assert client.get(f"{server.base_url}/payments/{other.id}").status_code == 404
            own = next(p for p in w.payments if p.profile_id == profile_id)
            assert client.get(f"{server.base_url}/payments/{own.id}").status_code == 200
            me = client.get(f"{server.base_url}/profiles/me").json()
            assert me["id"] == profile_id


def test_testmode(server, http):
    empty = http.get(f"{server.base_url}/payments", params={"testmode": "true"}).json()
    assert empty["count"] == 0 and empty["_links"]["next"] is None
    also = http.get(f"{server.base_url}/balances", params={"testmode": "True"}).json()
    assert also["count"] == 0
    live = http.get(f"{server.base_url}/payments", params={"testmode": "false"}).json()
    assert live["count"] == 50
    key = next(iter(server.profile_keys.values()))
    r = httpx.get(
        f"{server.base_url}/payments",
        params={"testmode": "true"},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert r.status_code == 400 and r.json()["field"] == "testmode"


@pytest.mark.parametrize(
    ("path", "entity", "token"),
    [
        ("/payments/tr_doesnotexist", "payment", "tr_doesnotexist"),
        ("/customers/cst_doesnotexist", "customer", "cst_doesnotexist"),
        ("/settlements/stl_doesnotexist", "settlement", "stl_doesnotexist"),
        ("/settlements/9999999.2601.01", "settlement", "9999999.2601.01"),
        ("/invoices/inv_doesnotexist", "invoice", "inv_doesnotexist"),
        ("/balances/bal_doesnotexist", "balance", "bal_doesnotexist"),
        ("/organizations/org_doesnotexist", "organization", "org_doesnotexist"),
        ("/profiles/pfl_doesnotexist", "profile", "pfl_doesnotexist"),
    ],
)
def test_unknown_id_is_a_404_problem(server, http, path, entity, token):
    r = http.get(server.base_url + path)
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/hal+json"
    body = r.json()
    assert body["title"] == "Not Found" and body["status"] == 404
    assert body["detail"] == f"No {entity} exists with token {token}."
    assert "documentation" in body["_links"]


def test_unknown_path_is_a_404(server, http):
    for path in ("/v2/nothing", "/v2/payments/tr_x/y/z", "/v1/payments", "/"):
        r = http.get(f"http://127.0.0.1:{server.port}{path}")
        assert r.status_code == 404 and r.json()["status"] == 404


def test_wrong_type_of_id_is_a_404(server, http):
    refund = server.world.refunds[0]
    r = http.get(f"{server.base_url}/payments/{refund.id}")
    assert r.status_code == 404


def test_settlement_by_id_and_by_bank_reference(server, http):
    s = server.world.settlements[-1]
    by_id = http.get(f"{server.base_url}/settlements/{s.id}").json()
    by_ref = http.get(f"{server.base_url}/settlements/{s.reference}").json()
    assert by_id == by_ref and by_id["reference"] == s.reference


def test_open_and_next_settlements(server, http):
    for kind in ("open", "next"):
        r = http.get(f"{server.base_url}/settlements/{kind}")
        assert r.status_code == 200
        body = r.json()
        assert body["id"] == kind and body["status"] == "open" and body["settledAt"] is None
        assert http.get(body["_links"]["payments"]["href"]).status_code == 200
    open_, next_ = (http.get(f"{server.base_url}/settlements/{k}").json() for k in ("open", "next"))
    primary = http.get(f"{server.base_url}/balances/primary").json()
    assert next_["amount"] == primary["availableAmount"]
    assert float(open_["amount"]["value"]) >= float(next_["amount"]["value"])


def test_settlement_filters(server, http):
    w = server.world
    b = w.balances[1]
    got = walk(http, f"{server.base_url}/settlements", "settlements", limit=250, balanceId=b.id)
    assert got == newest_first(s for s in w.settlements if s.balance_id == b.id)
    got = walk(
        http, f"{server.base_url}/settlements", "settlements", limit=250, currencies=b.currency
    )
    assert got == newest_first(s for s in w.settlements if s.currency == b.currency)
    october = walk(http, f"{server.base_url}/settlements", "settlements", year="2026", month="10")
    assert october and all(
        http.get(f"{server.base_url}/settlements/{x}").json()["createdAt"].startswith("2026-10")
        for x in october[:5]
    )
    bad = http.get(f"{server.base_url}/settlements", params={"month": "10"})
    assert bad.status_code == 400 and bad.json()["field"] == "month"


def test_invoice_filters(server, http):
    inv = server.world.invoices[0]
    got = walk(http, f"{server.base_url}/invoices", "invoices", reference=inv.reference)
    assert got == [inv.id]
    assert walk(http, f"{server.base_url}/invoices", "invoices", year="2019") == []


def test_balance_report(server, http):
    url = f"{server.base_url}/balances/primary/report"
    ok = http.get(
        url,
        params={"from": "2026-10-01", "until": "2026-11-01", "grouping": "transaction-categories"},
    )
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert body["resource"] == "balance-report" and body["grouping"] == "transaction-categories"
    assert body["_links"]["self"]["href"].startswith(url)
    r = http.get(url, params={"from": "2026-10-02", "until": "2026-10-01"})
    assert r.status_code == 422 and r.json()["status"] == 422
    r = http.get(url, params={"until": "2026-10-01"})
    assert r.status_code == 400 and r.json()["field"] == "from"
    r = http.get(url, params={"from": "2026-10-01", "until": "01-11-2026"})
    assert r.status_code == 400 and r.json()["field"] == "until"
    r = http.get(url, params={"from": "2026-10-01", "until": "2026-11-01", "grouping": "x"})
    assert r.status_code == 400 and r.json()["field"] == "grouping"


def test_payment_embeds_and_sub_resources(server, http):
    w = server.world
    p = max(w.payments, key=lambda p: (len(p.refunds) > 0, len(p.chargebacks)))
    body = http.get(
        f"{server.base_url}/payments/{p.id}", params={"embed": "refunds,chargebacks,captures"}
    ).json()
    assert [r["id"] for r in body["_embedded"]["refunds"]] == newest_first(
        w.by_id[x] for x in p.refunds
    )
    refunds = http.get(body["_links"]["refunds"]["href"]).json()
    assert refunds["count"] == len(p.refunds)
    one = refunds["_embedded"]["refunds"][0]
    assert http.get(one["_links"]["self"]["href"]).json() == one
    with_payment = http.get(
        f"{server.base_url}/refunds", params={"embed": "payment", "limit": 2}
    ).json()
    for r in with_payment["_embedded"]["refunds"]:
        assert r["_embedded"]["payment"]["id"] == r["paymentId"]
    cpt = next(c for c in w.captures)
    cap = http.get(f"{server.base_url}/payments/{cpt.payment_id}/captures/{cpt.id}").json()
    assert cap["status"] == "succeeded" and cap["paymentId"] == cpt.payment_id


def test_subscription_links_lead_to_its_customer(server, http):
    sub = server.world.subscriptions[0]
    body = http.get(f"{server.base_url}/customers/{sub.customer_id}/subscriptions/{sub.id}").json()
    assert body["_links"]["customer"]["href"].endswith(f"/customers/{sub.customer_id}")
    other = next(c for c in server.world.customers if c.id != sub.customer_id)
    r = http.get(f"{server.base_url}/customers/{other.id}/subscriptions/{sub.id}")
    assert r.status_code == 404


def test_request_count_is_per_path(server, http):
    before = server.request_count["/v2/organizations/me"]
    for _ in range(3):
        http.get(f"{server.base_url}/organizations/me", params={"x": "1"})
    assert server.request_count["/v2/organizations/me"] == before + 3


def test_read_only(server, http):
    r = http.post(f"{server.base_url}/payments", json={"amount": {"value": "1.00"}})
    assert r.status_code == 405 and r.json()["status"] == 405


def test_advance_keeps_history_and_adds_activity():
    config = SandboxConfig.from_cli(
        seed=3, payments=200, days=20, now="2026-10-01T00:00:00Z", start="2026-09-11T00:00:00Z"
    )
    with SandboxServer(config) as s, httpx.Client(headers=ORG) as http:
        before = walk(http, f"{s.base_url}/payments", "payments", limit=250)
        s.advance("2026-10-05T00:00:00Z")
        after = walk(http, f"{s.base_url}/payments", "payments", limit=250)
        assert set(before) < set(after)
        assert after[-len(before) :] == before


# -- faults ---------------------------------------------------------------------------------------


def test_rate_limit_has_retry_after_then_gets_through():
    faults = FaultConfig(rate_limit_share=1.0, retry_after_seconds=3, max_faults_per_url=2, seed=1)
    with SandboxServer(CONFIG, faults=faults) as s, httpx.Client(headers=ORG) as http:
        statuses = []
        for _ in range(3):
            r = http.get(f"{s.base_url}/organizations/me")
            statuses.append(r.status_code)
            if r.status_code == 429:
                assert r.headers["Retry-After"] == "3"
                assert r.json()["title"] == "Too Many Requests"
                assert r.headers["content-type"] == "application/hal+json"
        assert statuses == [429, 429, 200]


def test_server_errors_are_problem_json():
    faults = FaultConfig(server_error_share=1.0, max_faults_per_url=1, seed=1)
    with SandboxServer(CONFIG, faults=faults) as s, httpx.Client(headers=ORG) as http:
        r = http.get(f"{s.base_url}/balances")
        assert r.status_code in (500, 502, 503) and r.json()["status"] == r.status_code
        assert http.get(f"{s.base_url}/balances").status_code == 200


def test_drop_closes_the_connection_without_a_response():
    faults = FaultConfig(drop_share=1.0, max_faults_per_url=1, seed=1)
    with SandboxServer(CONFIG, faults=faults) as s, httpx.Client(headers=ORG) as http:
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            http.get(f"{s.base_url}/balances")
        assert http.get(f"{s.base_url}/balances").status_code == 200


def test_slow_responses():
    faults = FaultConfig(slow_share=1.0, slow_seconds=0.3, max_faults_per_url=1, seed=1)
    with SandboxServer(CONFIG, faults=faults) as s, httpx.Client(headers=ORG) as http:
        t = time.perf_counter()
        assert http.get(f"{s.base_url}/balances").status_code == 200
        assert time.perf_counter() - t >= 0.3


def _fault_trace(faults: FaultConfig) -> list[int | str]:
    trace: list[int | str] = []
    with SandboxServer(CONFIG, faults=faults) as s, httpx.Client(headers=ORG) as http:
        for limit in range(1, 30):
            try:
                trace.append(
                    http.get(f"{s.base_url}/payments", params={"limit": limit}).status_code
                )
            except httpx.TransportError:
                trace.append("drop")
    return trace


def test_faults_are_deterministic_from_the_seed():
    faults = FaultConfig(rate_limit_share=0.2, server_error_share=0.2, drop_share=0.2, seed=5)
    trace = _fault_trace(faults)
    assert trace == _fault_trace(faults)
    assert {429, 200, "drop"} <= set(trace)
    other = _fault_trace(
        FaultConfig(rate_limit_share=0.2, server_error_share=0.2, drop_share=0.2, seed=6)
    )
    assert other != trace


def test_a_retrying_client_gets_every_page():
    faults = FaultConfig(
        rate_limit_share=0.25,
        server_error_share=0.2,
        drop_share=0.1,
        retry_after_seconds=0,
        max_faults_per_url=2,
        seed=11,
    )
    expected = newest_first(SandboxServer(CONFIG).world.payments)
    with SandboxServer(CONFIG, faults=faults) as s, httpx.Client(headers=ORG) as http:
        ids: list[str] = []
        url: str | None = f"{s.base_url}/payments?limit=25"
        failures = 0
        while url:
            for _attempt in range(3):  # max_faults_per_url + 1 attempts always suffice
                try:
                    r = http.get(url)
                except httpx.TransportError:
                    failures += 1
                    continue
                if r.status_code == 200:
                    break
                assert r.status_code in (429, 500, 502, 503)
                failures += 1
            else:
                pytest.fail(f"{url} never succeeded")
            body = r.json()
            ids.extend(p["id"] for p in body["_embedded"]["payments"])
            url = (body["_links"]["next"] or {}).get("href")
        assert ids == expected
        assert failures > 5
