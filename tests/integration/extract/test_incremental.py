"""Incremental loads (docs/design.md, Extraction): later runs add exactly what is new, update what
changed, never duplicate, and a run with nothing new costs a handful of requests per stream.

One sandbox world seen at two moments (`server.advance`): the same history plus ten more days,
in which pending settlements are paid out and pending refunds are processed.
"""

from __future__ import annotations

from collections import Counter

import pytest
from conftest import (
    duplicate_keys,
    extract_into,
    metrics,
    requests_by_endpoint,
    sandbox_config,
    warehouse,
)
from sandbox_truth import diff, expected

from sandbox import render
from sandbox.server import SandboxServer

EARLIER = "2026-10-20T12:00:00Z"
LATER = "2026-10-30T12:00:00Z"
LOOKBACK_DAYS = 7  # longer than any sandbox lifecycle (payments settle within ~3 days)


def _statuses(world, objects, renderer) -> dict[str, str]:
    return {o.id: renderer(world, o, "")["status"] for o in objects}


def _db_statuses(db, table: str) -> dict[str, str]:
    with warehouse(db) as con:
        return dict(con.execute(f"SELECT id, status FROM mollie.{table}").fetchall())


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Three runs into one warehouse: at EARLIER, after advancing to LATER, and again."""
    db = tmp_path_factory.mktemp("incremental") / "warehouse.duckdb"
    with SandboxServer(sandbox_config(seed=11, now=EARLIER)) as server:
        before = server.world
        first = extract_into(db, server, lookback_days=LOOKBACK_DAYS)
        first_metrics = metrics(db, before)
        after = server.advance(LATER)
        second = extract_into(db, server, lookback_days=LOOKBACK_DAYS)
        second_metrics = metrics(db, after)
        counted = Counter(server.request_count)
        third = extract_into(db, server, lookback_days=LOOKBACK_DAYS)
        third_requests = requests_by_endpoint(Counter(server.request_count) - counted)
        third_metrics = metrics(db, after)
    return {
        "db": db,
        "before": before,
        "after": after,
        "results": (first, second, third),
        "metrics": (first_metrics, second_metrics, third_metrics),
        "third_requests": third_requests,
    }


def test_each_run_matches_the_world_it_saw(runs) -> None:
    first, second, third = runs["metrics"]
    assert diff(first, expected(runs["before"])) == {}
    assert diff(second, expected(runs["after"], runs["before"])) == {}
    assert diff(third, expected(runs["after"], runs["before"])) == {}
    assert duplicate_keys(runs["db"]) == {}


def test_second_run_adds_exactly_the_new_ledger_rows(runs) -> None:
    before, after = runs["before"], runs["after"]
    new_rows = len(after.transactions) - len(before.transactions)
    assert new_rows > 50
    # Each balance's walk stops at (and re-reads, `from` being inclusive) the last loaded row.
    assert runs["results"][1].rows["balance_transactions"] == new_rows + len(after.balances)
    # Nothing new: each balance's newest row is the one loaded, so no walk at all.
    assert runs["results"][2].rows["balance_transactions"] == 0


def test_changed_statuses_are_updated(runs) -> None:
    before, after, db = runs["before"], runs["after"], runs["db"]
    cases = {
        "settlements": (before.settlements, render.render_settlement, "pending", "paidout"),
        "refunds": (before.refunds, render.render_refund, "pending", "refunded"),
    }
    for table, (objects, renderer, was, becomes) in cases.items():
        then = _statuses(before, objects, renderer)
        now = _statuses(after, objects, renderer)
        moved = [i for i in then if then[i] == was and now[i] == becomes]
        assert moved, f"the scenario needs a {table} that goes {was} → {becomes}"
        loaded = _db_statuses(db, table)
        assert {i: loaded[i] for i in moved} == dict.fromkeys(moved, becomes)


def test_a_run_with_nothing_new_makes_few_requests(runs) -> None:
    after = runs["after"]
    requests = runs["third_requests"]
    open_settlements = sum(
        1
        for s in after.settlements
        if render.render_settlement(after, s, "")["status"] != "paidout"
    )
    assert open_settlements, "the scenario needs an open settlement"
    balances, profiles = len(after.balances), len(after.profiles)
    bounds = {
        "/v2/organizations/me": 1,
        "/v2/profiles": 1,  # read once: the profiles table and the per-profile lists share it
        "/v2/balances": 1,  # read once: balances, ledger heads, ledger walks and reports
        "/v2/balances/{id}/transactions": balances,  # the newest row: it is the one loaded
        "/v2/balances/{id}/report": balances,  # the last day, re-read
        "/v2/settlements": 1,
        "/v2/invoices": 1,
        # No money moved and the last sweep is minutes old: only what is new, one page each.
        "/v2/payments": profiles,
        "/v2/refunds": profiles,
        "/v2/chargebacks": 1,
        "/v2/customers": 1,
        "/v2/subscriptions": 1,
        # An open settlement whose object did not change has the sub-lists it had: not re-read.
    }
    assert set(requests) <= set(bounds), set(requests) - set(bounds)
    over = {k: (n, bounds[k]) for k, n in requests.items() if n > bounds[k]}
    assert over == {}


def test_full_refresh_of_some_tables_rereads_them_and_keeps_the_rest(tmp_path) -> None:
    db = tmp_path / "warehouse.duckdb"
    with SandboxServer(sandbox_config(seed=11, now=EARLIER)) as server:
        extract_into(db, server, lookback_days=LOOKBACK_DAYS)
        world = server.world
        again = extract_into(
            db, server, full_refresh=True, resources=["payments", "balance_transactions"]
        )
        assert again.rows == {
            "payments": len(world.payments),
            "balance_transactions": len(world.transactions),
        }
        assert diff(metrics(db, world), expected(world)) == {}
        everything = extract_into(db, server, full_refresh=True)
        assert everything.rows["settlement_payments"] == sum(
            len(s.payment_ids) for s in world.settlements
        )
    assert diff(metrics(db, world), expected(world)) == {}
    assert duplicate_keys(db) == {}
