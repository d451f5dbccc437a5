"""The look-back sweep of mutable lists (extract.source): a rerun with nothing new reads one page
per list however long the look-back window, a sweep re-reads the window when money moved or the
last sweep is old, and that sweep picks up a change that moved no money.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from conftest import extract_into, sandbox_config, warehouse

from bench.harness import stream
from extract.client import MollieClient
from extract.settings import ClientSettings
from sandbox.server import SandboxServer

NOW = "2026-10-20T12:00:00Z"
MUTABLE = ("/v2/payments", "/v2/refunds", "/v2/chargebacks", "/v2/customers", "/v2/subscriptions")


class Clock:
    """The wall clock the source reads for the age of the last sweep."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class Relabel:
    """Serves one payment with another description: a change that moves no money."""

    def __init__(self) -> None:
        self.payment_id: str | None = None

    def client_factory(self, settings: ClientSettings) -> MollieClient:
        upstream = httpx.Client()

        def handler(request: httpx.Request) -> httpx.Response:
            answer = upstream.send(
                httpx.Request(request.method, request.url, headers=request.headers)
            )
            if self.payment_id and request.url.path.endswith("/v2/payments"):
                body = answer.json()
                for p in body["_embedded"]["payments"]:
                    if p["id"] == self.payment_id:
                        p["description"] = "relabelled by the merchant"
                return httpx.Response(answer.status_code, headers=answer.headers, json=body)
            return httpx.Response(
                answer.status_code, headers=answer.headers, content=answer.content
            )

        return MollieClient(settings, transport=httpx.MockTransport(handler))


def _description(db, payment_id: str) -> str:
    with warehouse(db) as con:
        return con.execute(
            "SELECT description FROM mollie.payments WHERE id = ?", [payment_id]
        ).fetchall()[0][0]


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory):
    """A first load, then reruns of an unchanged world at later wall-clock times."""
    db = tmp_path_factory.mktemp("sweep") / "warehouse.duckdb"
    clock, relabel = Clock(), Relabel()
    # Many pages of payments inside the default 60-day look-back window.
    config = sandbox_config(seed=5, payments=3000, days=45, now=NOW)
    out = {"db": db}
    with SandboxServer(config, log_requests=True) as server:

        def run(label: str, **kwargs) -> None:
            before = len(server.request_log)
            extract_into(db, server, clock=clock, client_factory=relabel.client_factory, **kwargs)
            out[label] = Counter(stream(t) for t in server.request_log[before:])

        run("first")
        # A payment far down the list (weeks old, so on no first page) changes, no money moves.
        with warehouse(db) as con:
            relabel.payment_id = con.execute(
                "SELECT id FROM mollie.payments ORDER BY created_at LIMIT 1 OFFSET 500"
            ).fetchall()[0][0]
        out["payment_id"] = relabel.payment_id
        clock.now += timedelta(minutes=10)
        run("rerun")
        out["after_rerun"] = _description(db, relabel.payment_id)
        clock.now += timedelta(hours=13)  # past the default 12 hours
        run("aged")
        out["after_aged"] = _description(db, relabel.payment_id)
        clock.now += timedelta(minutes=10)
        run("forced", sweep_hours=0)
        out["world"] = server.world
    return out


def test_a_rerun_with_nothing_new_reads_at_most_two_pages_per_list(sweeps) -> None:
    rerun = sweeps["rerun"]
    assert max(rerun.values()) <= 2, {s: n for s, n in rerun.items() if n > 2}
    # The first load walked many pages of payments: the window is long, the rerun is not.
    first_payments = sum(n for (path, _), n in sweeps["first"].items() if path == "/v2/payments")
    assert first_payments >= 10


def test_the_rerun_does_not_see_a_change_that_moved_no_money(sweeps) -> None:
    # The documented price of cheap reruns: such a change waits for the next sweep.
    assert sweeps["after_rerun"] != "relabelled by the merchant"


def test_a_sweep_when_the_last_is_old_rereads_the_window_and_picks_up_the_change(sweeps) -> None:
    aged = sweeps["aged"]
    walked = {path: n for (path, _), n in aged.items() if path in MUTABLE}
    assert walked["/v2/payments"] >= 10  # the 60-day window, page by page
    assert sweeps["after_aged"] == "relabelled by the merchant"


def test_sweep_hours_zero_sweeps_every_run(sweeps) -> None:
    forced = sweeps["forced"]
    assert sum(n for (path, _), n in forced.items() if path == "/v2/payments") >= 10
    # Subscriptions change anywhere in their history: a sweep reads the whole list.
    subs = sum(n for (path, _), n in forced.items() if path == "/v2/subscriptions")
    assert subs == -(-len(sweeps["world"].subscriptions) // 250)
