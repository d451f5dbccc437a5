"""Webhooks end to end over real HTTP on 127.0.0.1: the sandbox sends Mollie's webhooks (signed
next-gen events and classic id-only calls), the receiver verifies and queues them, and the sensor
turns the queue into one targeted refresh run."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb
import httpx
import pytest

from extract.webhook_queue import LEDGER_TABLES, WebhookQueue
from extract.webhooks import WebhookServer
from orchestration.webhook_sensor import webhook_sensor
from sandbox import render
from sandbox import webhook_sender as sender
from sandbox.generate import SandboxConfig
from sandbox.server import DEFAULT_ACCESS_TOKEN, SandboxServer

SECRET = "whsec_new_secret_0000000000"
OLD_SECRET = "whsec_old_secret_1111111111"
NOW = "2026-11-01T00:00:00Z"
LATER = "2026-11-03T00:00:00Z"


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sandbox() -> Iterator[tuple[SandboxServer, object, object]]:
    """A small sandbox, moved on two days: (server, world before, world after)."""
    config = SandboxConfig.from_cli(seed=7, payments=300, days=30, now=NOW)
    with SandboxServer(config) as server:
        old = server.world
        new = server.advance(LATER)
        yield server, old, new


@pytest.fixture
def queue(tmp_path: Path) -> WebhookQueue:
    return WebhookQueue(tmp_path / "webhooks.sqlite")


@pytest.fixture
def receiver(queue: WebhookQueue) -> Iterator[WebhookServer]:
    # Both secrets, as during a rotation: the new one first, the old one still accepted.
    with WebhookServer(queue, [SECRET, OLD_SECRET]) as server:
        yield server


@pytest.fixture
def paid_payment(sandbox) -> dict:
    server, _, new = sandbox
    payment = next(p for p in reversed(new.payments) if p.final_status == "paid")
    return sender.render_entity(new, payment, server.base_url)


def rows(queue: WebhookQueue) -> list[dict]:
    with sqlite3.connect(queue.path) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM webhook_events ORDER BY seq")]


def signed(payload: dict, secret: str = SECRET) -> tuple[bytes, dict[str, str]]:
    body = sender.encode(payload)
    return body, {
        "Content-Type": "application/json",
        "X-Mollie-Signature": sender.signature(body, secret),
    }


# -- the receiver -----------------------------------------------------------------------------


def test_signed_event_is_accepted_and_queued(receiver, queue, paid_payment) -> None:
    response = sender.send_event(receiver.url, SECRET, paid_payment, "payment.paid")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "recorded"
    [item] = queue.pending()
    assert (item.kind, item.type, item.entity_id) == ("event", "payment.paid", paid_payment["id"])
    assert item.event_id == response.json()["id"]
    assert item.event_id.startswith("whe_")
    # The verified raw body is kept until processed (Mollie's full entity state, signed).
    payload = json.loads(rows(queue)[0]["payload"])
    assert payload["_embedded"]["entity"] == paid_payment
    assert payload["resource"] == "event"


def test_tampered_body_is_refused_and_nothing_recorded(receiver, queue, paid_payment) -> None:
    body, headers = signed(sender.event_payload(paid_payment, "payment.paid"))
    tampered = body.replace(b'"status":"paid"', b'"status":"failed"')
    assert tampered != body
    assert httpx.post(receiver.url, content=tampered, headers=headers).status_code == 401
    # Signed with a secret we do not hold, and not signed at all: refused the same way.
    _, foreign = signed(sender.event_payload(paid_payment, "payment.paid"), "whsec_somebody")
    assert httpx.post(receiver.url, content=body, headers=foreign).status_code == 401
    unsigned = {"Content-Type": "application/json"}
    assert httpx.post(receiver.url, content=body, headers=unsigned).status_code == 401
    assert rows(queue) == []


def test_rotated_secret_is_accepted(receiver, queue, paid_payment) -> None:
    response = sender.send_event(receiver.url, OLD_SECRET, paid_payment, "payment.paid")
    assert response.status_code == 200
    assert len(queue.pending()) == 1


def test_replayed_event_is_ignored(receiver, queue, paid_payment) -> None:
    first = sender.send_event(receiver.url, SECRET, paid_payment, "payment.paid")
    again = sender.send_event(receiver.url, SECRET, paid_payment, "payment.paid")
    assert (first.status_code, again.status_code) == (200, 200)  # Mollie must stop retrying
    assert again.json() == {"id": first.json()["id"], "status": "duplicate"}
    assert len(rows(queue)) == 1


def test_classic_webhook_is_recorded_as_a_hint(receiver, queue, paid_payment) -> None:
    response = sender.send_classic(receiver.url, paid_payment["id"])
    assert response.status_code == 200
    [item] = queue.pending()
    assert (item.kind, item.entity_id, item.event_id, item.type) == (
        "hint",
        paid_payment["id"],
        None,
        None,
    )
    assert rows(queue)[0]["payload"] is None  # an unsigned call carries no data to keep
    # Mollie's retries of the same id collapse into the open hint ...
    assert sender.send_classic(receiver.url, paid_payment["id"]).json()["status"] == "duplicate"
    assert len(rows(queue)) == 1
    # ... and once it is handled, the next call opens a new one.
    queue.mark_processed([item.seq])
    assert sender.send_classic(receiver.url, paid_payment["id"]).json()["status"] == "recorded"
    assert len(rows(queue)) == 2
    assert len(queue.pending()) == 1


@pytest.mark.parametrize("body", [b"id=<script>", b"id=tr_1234567890&id=tr_0987654321", b""])
def test_classic_webhook_without_a_mollie_id_is_refused(receiver, queue, body) -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert httpx.post(receiver.url, content=body, headers=form).status_code == 400
    assert rows(queue) == []


def test_oversized_body_is_refused_unread(receiver, queue, paid_payment) -> None:
    entity = {**paid_payment, "description": "x" * (receiver.max_body_bytes + 1)}
    body, headers = signed(sender.event_payload(entity, "payment.paid"))
    response = httpx.post(receiver.url, content=body, headers=headers)
    assert response.status_code == 413
    assert response.headers["connection"] == "close"
    assert rows(queue) == []
    # Refused on the headers alone: a client announcing 10 MB gets the 413 without sending any.
    with socket.create_connection((receiver.host, receiver.port), timeout=5) as raw:
        raw.sendall(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"X-Mollie-Signature: sha256=00\r\nContent-Length: 10000000\r\n\r\n"
        )
        assert raw.recv(4096).startswith(b"HTTP/1.1 413")
    # Still serving.
    assert sender.send_event(receiver.url, SECRET, paid_payment, "payment.paid").status_code == 200


def test_only_post(receiver, queue) -> None:
    response = httpx.get(receiver.url)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert rows(queue) == []


def test_flood_of_bad_signatures_is_refused_and_cheap(receiver, queue, paid_payment) -> None:
    body, _ = signed(sender.event_payload(paid_payment, "payment.paid"))
    bad = {"Content-Type": "application/json", "X-Mollie-Signature": "sha256=" + "0" * 64}
    with httpx.Client(timeout=5) as client:  # bounded: 200 requests to 127.0.0.1
        statuses = Counter(
            client.post(receiver.url, content=body, headers=bad).status_code for _ in range(200)
        )
        assert statuses == {401: 200}
        assert rows(queue) == []
        started = time.monotonic()
        ok = sender.send_event(receiver.url, SECRET, paid_payment, "payment.paid", client=client)
        assert ok.status_code == 200
        assert time.monotonic() - started < 1.0
    assert len(queue.pending()) == 1


def test_a_stalled_client_does_not_hold_the_server(queue, paid_payment) -> None:
    with WebhookServer(queue, [SECRET], read_timeout=1.0) as server:
        stalled = socket.create_connection((server.host, server.port), timeout=5)
        try:
            # Headers promise 100 bytes, 10 arrive, then nothing.
            stalled.sendall(
                b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"X-Mollie-Signature: sha256=00\r\nContent-Length: 100\r\n\r\n0123456789"
            )
            started = time.monotonic()
            ok = sender.send_event(server.url, SECRET, paid_payment, "payment.paid")
            assert ok.status_code == 200
            assert time.monotonic() - started < 1.0  # answered while the other one stalls
            answer = stalled.recv(4096)
            assert answer.startswith(b"HTTP/1.1 408")
            assert time.monotonic() - started < 4.0  # and the stalled one is cut off
        finally:
            stalled.close()
    assert [i.kind for i in queue.pending()] == ["event"]


def test_without_secrets_events_are_refused_but_hints_kept(queue, paid_payment, caplog) -> None:
    with WebhookServer(queue, []) as server:
        refused = sender.send_event(server.url, SECRET, paid_payment, "payment.paid")
        assert refused.status_code == 503
        assert "MOLLIE_WEBHOOK_SECRETS" in caplog.text
        assert sender.send_classic(server.url, paid_payment["id"]).status_code == 200
    assert [i.kind for i in queue.pending()] == ["hint"]


def test_logs_name_events_not_secrets_or_customers(receiver, paid_payment, caplog) -> None:
    caplog.set_level("DEBUG", logger="mollie_ledger")
    response = sender.send_event(receiver.url, SECRET, paid_payment, "payment.paid")
    assert response.json()["id"] in caplog.text
    for secret_or_pii in (SECRET, OLD_SECRET, paid_payment["description"]):
        assert secret_or_pii not in caplog.text


# -- the sandbox as sender --------------------------------------------------------------------


def test_sandbox_sends_what_changed_after_advance(sandbox, receiver, queue) -> None:
    server, old, new = sandbox
    with httpx.Client(timeout=10) as client:
        sent = sender.send_changes(
            receiver.url, SECRET, old, new, base=server.base_url, client=client
        )
    assert sent and all(r.status_code == 200 for _, r in sent)
    types = Counter(c.type for c, _ in sent)
    assert types["payment.paid"] > 0
    assert types["balance-transaction.created"] > 0
    for change, _ in sent:
        if change.type == "payment.paid":  # paid now, and not before the step
            assert change.entity["status"] == "paid"
            before = old.by_id.get(change.entity["id"])
            assert before is None or render.payment_status(old, before) != "paid"
    assert Counter(i.type for i in queue.pending()) == types
    # Sending the same changes again is a replay: nothing new.
    again = sender.send_changes(receiver.url, SECRET, old, new, base=server.base_url)
    assert {r.json()["status"] for _, r in again} == {"duplicate"}
    assert len(queue.pending()) == len(sent)


# -- the sensor -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def definitions() -> dg.Definitions:
    from orchestration.definitions import defs

    return dg.Definitions.merge(defs, dg.Definitions(sensors=[webhook_sensor]))


@pytest.fixture(scope="module")
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


@pytest.fixture
def queue_env(monkeypatch, queue: WebhookQueue) -> WebhookQueue:
    monkeypatch.setenv("MOLLIE_LEDGER_WEBHOOK_QUEUE", str(queue.path))
    return queue


def evaluate(definitions, instance, cursor: str | None = None):
    context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=definitions)
    return list(webhook_sensor(context)), context.cursor


def key(path: str) -> dg.AssetKey:
    return dg.AssetKey.from_user_string(path)


def test_sensor_launches_one_targeted_run(definitions, instance, queue_env, receiver) -> None:
    for n in range(3):
        payment = {"resource": "payment", "id": f"tr_webhook00{n}"}
        # Mollie's "simple" payload: the entity id only, `_embedded` null.
        sender.send_event(receiver.url, SECRET, payment, "payment.paid", embed=False)
    sender.send_classic(receiver.url, "tr_classichint")

    [request], cursor = evaluate(definitions, instance)
    assert isinstance(request, dg.RunRequest)
    selected = set(request.asset_selection)
    extract = {k for k in selected if k.path[0] == "mollie"}
    assert extract == {key("mollie/payments"), key("mollie/refunds"), key("mollie/chargebacks")}
    # ... plus what is built from them, and nothing upstream or unrelated.
    assert {key("staging/stg_mollie__payments"), key("marts/chargeback_cases")} <= selected
    assert key("mollie/balance_transactions") not in selected
    assert key("mollie/invoices") not in selected
    assert request.tags["mollie_ledger/webhook_events"] == "3"
    assert request.tags["mollie_ledger/webhook_hints"] == "1"
    assert request.tags["mollie_ledger/sweep"] == "true"  # the changed objects are re-read
    assert request.run_key.startswith("webhooks-")
    # The sensor's own job can run exactly that selection.
    job = definitions.resolve_job_def(webhook_sensor.job_name)
    assert set(job.get_subset(asset_selection=selected).asset_layer.selected_asset_keys) == selected

    assert json.loads(cursor)["seq"] == 4
    assert queue_env.pending() == []
    assert all(r["payload"] is None for r in rows(queue_env))  # customer data dropped

    # Next tick: nothing new.
    [skip], same = evaluate(definitions, instance, cursor)
    assert isinstance(skip, dg.SkipReason)
    assert same == cursor


def test_sensor_refreshes_the_ledger_for_payouts(definitions, instance, queue_env, receiver):
    settlement = {"resource": "settlement", "id": "stl_payout0001"}
    sender.send_event(receiver.url, SECRET, settlement, "payout.completed")
    [request], _ = evaluate(definitions, instance)
    extract = {k.path[1] for k in request.asset_selection if k.path[0] == "mollie"}
    assert extract == set(LEDGER_TABLES)
    assert {"settlement_payments", "settlement_refunds", "balance_transactions"} <= extract


def test_sensor_skips_with_nothing_queued(definitions, instance, queue_env) -> None:
    [skip], cursor = evaluate(definitions, instance)
    assert isinstance(skip, dg.SkipReason)
    assert cursor is None


def test_sensor_skips_without_a_queue_file(definitions, instance, monkeypatch, tmp_path):
    monkeypatch.setenv("MOLLIE_LEDGER_WEBHOOK_QUEUE", str(tmp_path / "none.sqlite"))
    [skip], _ = evaluate(definitions, instance)
    assert isinstance(skip, dg.SkipReason)
    assert not (tmp_path / "none.sqlite").exists()


def test_sensor_never_loses_an_event_to_a_crash(definitions, instance, queue_env, receiver):
    sender.send_event(
        receiver.url, SECRET, {"resource": "payment", "id": "tr_crash00001"}, "payment.paid"
    )
    [first], _ = evaluate(definitions, instance)
    # The tick's result (cursor) was never stored, though the rows were marked processed:
    # the next tick asks again, with the same run key (Dagster launches it at most once).
    assert queue_env.pending() == []
    [again], _ = evaluate(definitions, instance, cursor=None)
    assert isinstance(again, dg.RunRequest)
    assert again.run_key == first.run_key


def test_sensor_ignores_a_cursor_from_another_queue(definitions, instance, queue_env, receiver):
    sender.send_classic(receiver.url, "tr_newqueue01")
    stale = json.dumps({"queue": "an-older-queue-file", "seq": 999})
    [request], cursor = evaluate(definitions, instance, stale)
    assert isinstance(request, dg.RunRequest)
    assert json.loads(cursor) == {"queue": queue_env.queue_id, "seq": 1}


def test_sensor_run_refreshes_the_warehouse(
    sandbox, definitions, instance, queue_env, receiver, monkeypatch, tmp_path
) -> None:
    """The requested run's extract part, run against the sandbox, loads what the webhooks said:
    a payout completed → the ledger, the settlement and its sub-lists, and nothing else."""
    from orchestration.extract_assets import extract_assets, resources

    server, old, new = sandbox
    sent = sender.send_changes(
        receiver.url, SECRET, old, new, base=server.base_url, types={"payout.completed"}
    )
    assert sent, "the sandbox step should complete a payout"
    [request], _ = evaluate(definitions, instance)
    db = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv("MOLLIE_API_BASE_URL", server.base_url)
    monkeypatch.setenv("MOLLIE_ACCESS_TOKEN", DEFAULT_ACCESS_TOKEN)
    monkeypatch.setenv("MOLLIE_RATE_PER_SECOND", "0")
    monkeypatch.setenv("MOLLIE_LEDGER_DB", str(db))
    selection = [k for k in request.asset_selection if k.path[0] == "mollie"]
    result = dg.materialize(
        [extract_assets], resources=resources, selection=selection, instance=instance
    )
    assert result.success
    loaded = {e.asset_key for e in result.get_asset_materialization_events()}
    assert loaded == set(selection)
    with duckdb.connect(str(db), read_only=True) as con:
        for change, _ in sent:
            settlement_id = change.entity["id"]
            status = con.execute(
                "SELECT status FROM mollie.settlements WHERE id = ?", [settlement_id]
            ).fetchone()
            assert status == ("paidout",)
            swept = con.execute(
                "SELECT count(*) FROM mollie.settlement_payments WHERE settlement_id = ?",
                [settlement_id],
            ).fetchone()[0]
            assert swept == len(new.by_id[settlement_id].payment_ids)


# -- the command ------------------------------------------------------------------------------


def test_serve_webhooks_runs_until_sigterm(tmp_path, paid_payment) -> None:
    queue_path = tmp_path / "cli.sqlite"
    code = (
        "from extract.webhooks import serve_webhooks;"
        f"serve_webhooks(0, '127.0.0.1', {str(queue_path)!r})"
    )
    env = {**os.environ, "MOLLIE_WEBHOOK_SECRETS": f"{SECRET},{OLD_SECRET}"}
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        first = proc.stdout.readline()
        assert "listening on http://127.0.0.1:" in first
        url = first.split("listening on ", 1)[1].split()[0]
        second = proc.stdout.readline()
        assert "2 webhook secret(s)" in second
        assert sender.send_event(url, OLD_SECRET, paid_payment, "payment.paid").status_code == 200
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "stopped" in out
    assert SECRET not in first + second + out + err
    assert OLD_SECRET not in first + second + out + err
    assert len(WebhookQueue(queue_path).pending()) == 1
