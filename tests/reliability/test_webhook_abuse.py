"""The webhook receiver under abuse, on 127.0.0.1 only and bounded: many slow clients at once, a
flood of bad signatures from several connections while real events arrive, a trickling or
chunked body, a correctly signed event that is not a Mollie event. It stays responsive and
records exactly the genuine events, nothing false.

tests/integration/webhooks covers one stalled client, a sequential flood, an oversized body and
tampering; these are the concurrent and protocol-level cases it does not.
"""

from __future__ import annotations

import socket
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from extract.webhook_queue import WebhookQueue
from extract.webhooks import WebhookServer
from sandbox import webhook_sender as sender

SECRET = "whsec_reliability_000000000000"
READ_TIMEOUT = 3.0  # a genuine event must be answered well within it, while others stall
RESPONSIVE = READ_TIMEOUT / 2
SLOW_CLIENTS = 24
FLOOD_THREADS = 4
FLOOD_EACH = 50


def _payment(n: int) -> dict:
    return {"resource": "payment", "id": f"tr_Reliab{n:04d}", "status": "paid"}


def _signed(n: int, secret: str = SECRET) -> tuple[bytes, dict[str, str]]:
    body = sender.encode(sender.event_payload(_payment(n), "payment.paid"))
    return body, {
        "Content-Type": "application/json",
        "X-Mollie-Signature": sender.signature(body, secret),
    }


@pytest.fixture
def queue(tmp_path: Path) -> WebhookQueue:
    return WebhookQueue(tmp_path / "webhooks.sqlite")


@pytest.fixture
def receiver(queue):
    with WebhookServer(queue, [SECRET], read_timeout=READ_TIMEOUT) as server:
        yield server


def _stall(server: WebhookServer, declared: int = 200) -> socket.socket:
    conn = socket.create_connection((server.host, server.port), timeout=10)
    conn.sendall(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"X-Mollie-Signature: sha256=00\r\n" + f"Content-Length: {declared}\r\n\r\n".encode() + b"{"
    )
    return conn


def _timed_post(client: httpx.Client, url: str, n: int) -> tuple[int, float]:
    body, headers = _signed(n)
    started = time.monotonic()
    status = client.post(url, content=body, headers=headers).status_code
    return status, time.monotonic() - started


def test_many_slow_clients_do_not_hold_it_up(receiver, queue, measured) -> None:
    stalled = [_stall(receiver) for _ in range(SLOW_CLIENTS)]
    try:
        with httpx.Client(timeout=5) as client:
            answers = [_timed_post(client, receiver.url, n) for n in range(5)]
        assert [status for status, _ in answers] == [200] * 5
        assert max(seconds for _, seconds in answers) < RESPONSIVE  # while 24 stall
        cut_off = Counter()
        deadline = time.monotonic() + READ_TIMEOUT + 4
        for conn in stalled:
            conn.settimeout(max(0.1, deadline - time.monotonic()))
            cut_off[conn.recv(64).split(b"\r\n")[0]] += 1
    finally:
        for conn in stalled:
            conn.close()
    assert cut_off == {b"HTTP/1.1 408 Request Timeout": SLOW_CLIENTS}
    assert sorted(i.entity_id for i in queue.pending()) == [f"tr_Reliab{n:04d}" for n in range(5)]
    measured.record(
        "webhooks",
        f"{SLOW_CLIENTS} stalled clients at once",
        tried=SLOW_CLIENTS + 5,
        lost=0,
        duplicated=0,
        note=f"5 genuine events answered in < {RESPONSIVE:g} s meanwhile; every stalled one "
        f"cut off with 408 after {READ_TIMEOUT:g} s; only the 5 recorded",
    )


def test_a_concurrent_flood_of_bad_signatures_records_only_the_genuine(
    receiver, queue, measured
) -> None:
    forged, _ = _signed(999)
    bad = {"Content-Type": "application/json", "X-Mollie-Signature": "sha256=" + "ab" * 32}
    wrong_key_body, wrong_key = _signed(998, secret="whsec_not_ours_00000000000")

    def flood(_: int) -> Counter:
        statuses: Counter = Counter()
        with httpx.Client(timeout=5) as client:
            for i in range(FLOOD_EACH):
                body, headers = (forged, bad) if i % 2 else (wrong_key_body, wrong_key)
                statuses[client.post(receiver.url, content=body, headers=headers).status_code] += 1
        return statuses

    with ThreadPoolExecutor(FLOOD_THREADS + 1) as pool:
        floods = [pool.submit(flood, t) for t in range(FLOOD_THREADS)]
        with httpx.Client(timeout=5) as client:
            genuine = [_timed_post(client, receiver.url, n) for n in range(10)]
        refused = sum((f.result() for f in floods), Counter())

    assert refused == {401: FLOOD_THREADS * FLOOD_EACH}
    assert [status for status, _ in genuine] == [200] * 10
    assert max(seconds for _, seconds in genuine) < RESPONSIVE
    assert sorted(i.entity_id for i in queue.pending()) == [f"tr_Reliab{n:04d}" for n in range(10)]
    measured.record(
        "webhooks",
        f"{FLOOD_THREADS * FLOOD_EACH} bad signatures from {FLOOD_THREADS} connections at once",
        tried=FLOOD_THREADS * FLOOD_EACH + 10,
        lost=0,
        duplicated=0,
        note=f"all refused 401; the 10 genuine events meanwhile recorded, each answered "
        f"< {RESPONSIVE:g} s",
    )


def test_trickled_chunked_and_unexpected_bodies_record_nothing(receiver, queue) -> None:
    # A body trickled a byte at a time cannot stretch the read deadline.
    body, headers = _signed(1)
    conn = socket.create_connection((receiver.host, receiver.port), timeout=10)
    try:
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        conn.sendall(
            f"POST / HTTP/1.1\r\nHost: x\r\n{head}Content-Length: {len(body)}\r\n\r\n".encode()
        )
        started = time.monotonic()
        for byte in body:
            try:
                conn.sendall(bytes([byte]))
            except OSError:
                break
            time.sleep(0.2)
            if time.monotonic() - started > READ_TIMEOUT + 1:
                break
        conn.settimeout(3)
        answer = conn.recv(64)
    finally:
        conn.close()
    assert answer.startswith(b"HTTP/1.1 408")
    # A chunked body has no length to check against the limit: refused unread.
    chunked = httpx.post(receiver.url, content=iter([body]), headers=headers)
    assert chunked.status_code == 411
    # Correctly signed, but not a Mollie event.
    for raw in (
        sender.encode(
            {"resource": "event", "id": "whe_x", "type": "payment.paid", "entityId": "../../etc"}
        ),
        sender.encode({"resource": "payment", "id": "tr_Reliab0002"}),
        b'["not", "an", "object"]',
    ):
        signed = {
            "Content-Type": "application/json",
            "X-Mollie-Signature": sender.signature(raw, SECRET),
        }
        assert httpx.post(receiver.url, content=raw, headers=signed).status_code == 400
    assert queue.pending() == []
