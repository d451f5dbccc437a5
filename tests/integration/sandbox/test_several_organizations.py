"""One sandbox serves several organizations, one access token each, over real HTTP: a token (or
a profile API key) sees only its own organization's world, as Mollie keeps organizations apart."""

from __future__ import annotations

import httpx
import pytest

from sandbox.generate import SandboxConfig
from sandbox.server import SandboxServer

NOW = "2026-11-01T00:00:00Z"
TOKENS = {
    "access_orga0groene0vork": 7,
    "access_orgb0blauwe0reiger": 8,
    "access_orgc0rode0kaart": 9,
}
MAIN, *MORE = TOKENS


def config(seed: int) -> SandboxConfig:
    return SandboxConfig.from_cli(seed=seed, payments=300, days=30, now=NOW)


@pytest.fixture(scope="module")
def server():
    more = {token: config(TOKENS[token]) for token in MORE}
    with SandboxServer(config(TOKENS[MAIN]), access_token=MAIN, more_worlds=more) as s:
        yield s


def get(server: SandboxServer, token: str, path: str, **params) -> httpx.Response:
    return httpx.get(
        f"{server.base_url}{path}",
        params=params,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )


def ok(response: httpx.Response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


def test_each_token_sees_only_its_own_organization(server):
    assert list(server.worlds) == list(TOKENS)
    assert server.world is server.worlds[MAIN] and server.access_token == MAIN
    seen: dict[str, set[str]] = {}
    for token, world in server.worlds.items():
        me = ok(get(server, token, "/organizations/me"))
        assert me["id"] == world.organization.id
        balances = ok(get(server, token, "/balances"))["_embedded"]["balances"]
        assert {b["id"] for b in balances} == {b.id for b in world.balances}
        payments = ok(get(server, token, "/payments", limit=250))["_embedded"]["payments"]
        assert len(payments) == 250
        assert all(world.by_id[p["id"]].id == p["id"] for p in payments)
        settlements = ok(get(server, token, "/settlements"))["_embedded"]["settlements"]
        seen[token] = (
            {me["id"]}
            | {b["id"] for b in balances}
            | {p["id"] for p in payments}
            | {s["id"] for s in settlements}
        )
    # No id one organization is shown exists in another organization's world.
    for token, ids in seen.items():
        for other, world in server.worlds.items():
            if other != token:
                assert not ids & world.by_id.keys(), (token, other)


def test_another_organizations_objects_are_not_found(server):
    a, b = server.worlds[MAIN], server.worlds[MORE[0]]
    payment, settlement = b.payments[0], b.settlements[0]
    for path in (
        f"/payments/{payment.id}",
        f"/settlements/{settlement.id}",
        f"/balances/{b.balances[0].id}",
        f"/customers/{b.customers[0].id}",
        f"/organizations/{b.organization.id}",
    ):
        response = get(server, MAIN, path)
        assert response.status_code == 404, path
        assert response.json()["title"] == "Not Found"
    # The same id asked with its own organization's token is there.
    assert ok(get(server, MORE[0], f"/payments/{payment.id}"))["id"] == payment.id
    assert get(server, MORE[0], f"/payments/{a.payments[0].id}").status_code == 404
    # `from` cursors are ids of one list: another organization's id is no cursor.
    response = get(server, MAIN, "/payments", **{"from": payment.id})
    assert response.status_code == 400 and response.json()["field"] == "from"


def test_a_wrong_token_is_unauthorized(server):
    for header in ("Bearer access_bogus0token", f"Bearer {MAIN}x", f"Basic {MAIN}"):
        response = httpx.get(
            f"{server.base_url}/payments", headers={"Authorization": header}, timeout=30
        )
        assert response.status_code == 401
        assert response.json()["detail"] == "Missing authentication, or failed to authenticate"


def test_profile_keys_open_only_their_own_world(server):
    b_token = MORE[0]
    a_world, b_world = server.worlds[MAIN], server.worlds[b_token]
    b_keys = server.profile_keys_of(b_token)
    assert server.profile_keys_of(MAIN) == server.profile_keys
    assert not set(b_keys.values()) & set(server.profile_keys.values())
    for profile_id, key in b_keys.items():
        assert ok(get(server, key, "/profiles/me"))["id"] == profile_id
        payments = ok(get(server, key, "/payments", limit=50))["_embedded"]["payments"]
        assert payments and all(b_world.by_id[p["id"]].profile_id == profile_id for p in payments)
        mine = next(p for p in b_world.payments if p.profile_id == profile_id)
        assert ok(get(server, key, f"/payments/{mine.id}"))["id"] == mine.id
        assert get(server, key, f"/payments/{a_world.payments[0].id}").status_code == 404
    test_key = next(iter(server.profile_keys_of(b_token, test=True).values()))
    assert ok(get(server, test_key, "/payments"))["count"] == 0  # test mode: nothing there


def test_advance_moves_every_world():
    later = "2026-11-08T00:00:00Z"
    more = {token: config(TOKENS[token]) for token in MORE}
    with SandboxServer(
        config(TOKENS[MAIN]), access_token=MAIN, more_worlds=more, warm=False
    ) as server:
        before = {t: len(w.payments) for t, w in server.worlds.items()}
        server.advance(later)
        for token, world in server.worlds.items():
            assert world.now == SandboxConfig.from_cli(7, 1, 1, later).now
            assert len(world.payments) > before[token]
            newest = ok(get(server, token, "/payments", limit=1))["_embedded"]["payments"][0]
            assert newest["id"] == max(world.payments, key=lambda p: (p.created_at, p.id)).id


@pytest.mark.parametrize(
    ("more", "message"),
    [
        ({"access_other": config(7)}, "share seed 7"),
        ({"live_other": config(8)}, "starts with 'access_'"),
        ({MAIN: config(8)}, "its own access token"),
    ],
)
def test_worlds_that_would_mix_are_refused(more, message):
    with pytest.raises(ValueError, match=message):
        SandboxServer(config(7), access_token=MAIN, more_worlds=more)
