"""Receiving Mollie webhooks: verify them, queue them durably, and say which tables to refresh.

Two kinds arrive (Mollie's webhook documentation):

- next-gen events: JSON `{"resource": "event", "id", "type", "entityId", …}` signed with
  `X-Mollie-Signature: sha256=<hex>` (HMAC-SHA256 of the raw body). Only a signature that matches
  one of the configured secrets (several during a rotation) gets an event recorded.
- classic webhooks: a form body `id=tr_…`, unsigned. Anyone can send one, so it is recorded only
  as a *hint* to re-fetch that object from the API, never as data.

Nothing here trusts a webhook as a source of truth: the queue only tells the orchestrator which
streams to refresh (`tables_to_refresh`); the data itself always comes from the API.

    mollie-ledger webhooks --port 8766      # → serve_webhooks(...)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import signal
import socket
import sqlite3
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from extract.http_server import BackgroundHTTPService, TrackedHandler

log = logging.getLogger("mollie_ledger.webhooks")

SIGNATURE_HEADER = "X-Mollie-Signature"
SIGNATURE_PREFIX = "sha256="
ENV_SECRETS = "MOLLIE_WEBHOOK_SECRETS"
ENV_QUEUE = "MOLLIE_LEDGER_WEBHOOK_QUEUE"
DEFAULT_QUEUE = Path("data/webhooks.sqlite")
DEFAULT_PORT = 8766

# Mollie ids are a lowercase prefix, an underscore and base62 (tr_WDqYK6vllg, whe_gQMMaGqAVA).
# Anything else in an id field is not from Mollie, and never reaches the queue or a log line.
MOLLIE_ID = re.compile(r"[a-z]{2,10}_[A-Za-z0-9]{4,64}")
EVENT_TYPE = re.compile(r"[a-z][a-z-]{0,40}(\.[a-z][a-z-]{0,40}){1,3}")


# -- signatures -------------------------------------------------------------------------------


def verify_signature(raw_body: bytes, header: str | None, secrets: Iterable[str]) -> bool:
    """True when `header` is the HMAC-SHA256 of `raw_body` under any one of `secrets`.

    The `sha256=` prefix is optional (Mollie's PHP validator strips it too). Every secret is
    compared, with `hmac.compare_digest` and without stopping at a match, so neither the digest
    nor which secret matched can be learned from response timing.
    """
    if not header:
        return False
    given = header.strip()
    if given[: len(SIGNATURE_PREFIX)].lower() == SIGNATURE_PREFIX:
        given = given[len(SIGNATURE_PREFIX) :]
    # Bytes, not str: compare_digest refuses non-ASCII str, and a header is attacker-controlled.
    given_bytes = given.strip().lower().encode("utf-8", "replace")
    matched = False
    for secret in secrets:
        expected = hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest().encode()
        matched |= hmac.compare_digest(expected, given_bytes)
    return matched


def secrets_from_env(environ: Mapping[str, str] | None = None) -> list[str]:
    """`MOLLIE_WEBHOOK_SECRETS`: comma-separated, the current secret and any being rotated out."""
    raw = (os.environ if environ is None else environ).get(ENV_SECRETS, "")
    return [s.strip() for s in raw.split(",") if s.strip()]


def queue_path_from_env(path: str | os.PathLike[str] | None = None) -> Path:
    """The queue file: the argument, else `MOLLIE_LEDGER_WEBHOOK_QUEUE`, else the default."""
    return Path(path or os.environ.get(ENV_QUEUE) or DEFAULT_QUEUE)


# -- the durable queue ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueuedItem:
    seq: int  # the row id: strictly increasing in commit order (the sensor's cursor)
    kind: str  # "event" (signed, next-gen) | "hint" (classic, unsigned: re-fetch the id)
    event_id: str | None  # hints have none
    type: str | None  # e.g. "payment.paid"; hints have none
    entity_id: str
    received_at: str
    processed_at: str | None

    @property
    def key(self) -> str:
        """Identifies this delivery: the event id, or the hint's row (hints have no id)."""
        return self.event_id or f"hint:{self.seq}:{self.entity_id}"


_SCHEMA = """
CREATE TABLE IF NOT EXISTS queue_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS webhook_events (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused, so a cursor stays valid
    event_id     TEXT UNIQUE,                        -- NULL for hints (NULLs do not collide)
    kind         TEXT NOT NULL CHECK (kind IN ('event', 'hint')),
    type         TEXT,
    entity_id    TEXT NOT NULL,
    received_at  TEXT NOT NULL,
    payload      TEXT,                               -- the verified raw JSON, events only
    processed_at TEXT
);
-- One open hint per object: Mollie retries classic webhooks, and ten "re-read tr_x" before the
-- next refresh mean the same as one. After processing, a new hint opens a new row.
CREATE UNIQUE INDEX IF NOT EXISTS open_hint_per_entity
    ON webhook_events (entity_id) WHERE kind = 'hint' AND processed_at IS NULL;
CREATE INDEX IF NOT EXISTS unprocessed ON webhook_events (seq) WHERE processed_at IS NULL;
"""
_COLUMNS = "seq, kind, event_id, type, entity_id, received_at, processed_at"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class WebhookQueue:
    """Received webhooks in a SQLite file (WAL), shared by the receiver and the sensor.

    One connection per queue object, used under a lock: the HTTP server writes from many
    threads, and SQLite serialises writers anyway. (A connection per call would be simpler but
    the last one to close checkpoints the WAL, an fsync per webhook.) The sensor reads from
    another process through its own queue object; WAL lets it read while the receiver writes.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, timeout=10, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        # A 2xx tells Mollie to stop retrying, so an acknowledged event must survive a power
        # cut: FULL syncs the WAL on every commit (NORMAL would not).
        self._conn.execute("PRAGMA synchronous=FULL")
        with self._transaction() as conn:
            conn.executescript(_SCHEMA)
            conn.execute(
                "INSERT OR IGNORE INTO queue_meta VALUES ('queue_id', ?)", (uuid.uuid4().hex,)
            )
            self.queue_id: str = conn.execute(
                "SELECT value FROM queue_meta WHERE key = 'queue_id'"
            ).fetchone()[0]

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._conn:  # committed (or rolled back) on exit
            yield self._conn

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> WebhookQueue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def put_event(
        self, event_id: str, type: str, entity_id: str, payload: str | None = None
    ) -> bool:
        """Record a verified next-gen event; False when its id was already recorded (a replay)."""
        with self._transaction() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO webhook_events"
                " (event_id, kind, type, entity_id, received_at, payload)"
                " VALUES (?, 'event', ?, ?, ?, ?)",
                (event_id, type, entity_id, _now(), payload),
            )
            return cur.rowcount == 1

    def put_hint(self, entity_id: str) -> bool:
        """Record a classic "re-fetch this id"; False when one for the id is still open."""
        with self._transaction() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO webhook_events (kind, entity_id, received_at)"
                " VALUES ('hint', ?, ?)",
                (entity_id, _now()),
            )
            return cur.rowcount == 1

    def pending(self, limit: int | None = None) -> list[QueuedItem]:
        """Not yet processed, oldest first."""
        return self._select("processed_at IS NULL", (), limit)

    def after(self, seq: int, limit: int | None = None) -> list[QueuedItem]:
        """Everything recorded after row `seq` (processed or not), oldest first."""
        return self._select("seq > ?", (seq,), limit)

    def _select(self, where: str, params: tuple, limit: int | None) -> list[QueuedItem]:
        sql = f"SELECT {_COLUMNS} FROM webhook_events WHERE {where} ORDER BY seq"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self._transaction() as conn:
            return [QueuedItem(*row) for row in conn.execute(sql, params)]

    def mark_processed(self, seqs: Iterable[int]) -> int:
        """Mark rows processed; their payloads are dropped (the refresh re-reads the API, and
        the payload holds customer data that has no reason to stay here)."""
        ids = list(seqs)
        with self._transaction() as conn:
            cur = conn.executemany(
                "UPDATE webhook_events SET processed_at = ?, payload = NULL"
                " WHERE seq = ? AND processed_at IS NULL",
                [(_now(), s) for s in ids],
            )
            return cur.rowcount


# -- which tables a webhook touches -----------------------------------------------------------

PAYMENT_TABLES = ("payments", "refunds", "chargebacks")
LEDGER_TABLES = (
    "balances",  # available/pending amounts move with every ledger row
    "balance_transactions",
    "settlements",
    "settlement_periods",
    "settlement_payments",
    "settlement_refunds",
    "settlement_chargebacks",
    "settlement_captures",
)
SUBSCRIPTION_TABLES = ("subscriptions",)

# Next-gen event type prefix → tables. A refund, chargeback or capture changes its payment
# (amountRefunded, amountChargedBack, …) as well as itself; a payment link becomes a payment.
_TABLES_BY_EVENT: dict[str, tuple[str, ...]] = {
    "payment": PAYMENT_TABLES,
    "refund": PAYMENT_TABLES,
    "chargeback": PAYMENT_TABLES,
    "capture": PAYMENT_TABLES,
    "payment-link": PAYMENT_TABLES,
    "balance-transaction": LEDGER_TABLES,
    "payout": LEDGER_TABLES,
    "subscription": SUBSCRIPTION_TABLES,
}
# Classic hints carry only an id; its prefix names the object (classic webhooks for refunds and
# chargebacks arrive as the payment's id, but the others are harmless to map the same way).
_TABLES_BY_PREFIX: dict[str, tuple[str, ...]] = {
    "tr": PAYMENT_TABLES,
    "re": PAYMENT_TABLES,
    "chb": PAYMENT_TABLES,
    "cpt": PAYMENT_TABLES,
    "ord": PAYMENT_TABLES,
    "pl": PAYMENT_TABLES,
    "baltr": LEDGER_TABLES,
    "stl": LEDGER_TABLES,
    "sub": SUBSCRIPTION_TABLES,
}


def tables_for(item: QueuedItem) -> tuple[str, ...]:
    """The raw tables (`mollie.<table>`) a queued webhook asks to refresh; () = none we extract
    (sales invoices, business-account transfers, …)."""
    if item.kind == "event" and item.type:
        return _TABLES_BY_EVENT.get(item.type.split(".", 1)[0], ())
    return _TABLES_BY_PREFIX.get(item.entity_id.split("_", 1)[0], ())


def tables_to_refresh(items: Iterable[QueuedItem]) -> list[str]:
    return sorted({t for item in items for t in tables_for(item)})


# -- the HTTP receiver ------------------------------------------------------------------------


class _Reply(Exception):
    """Ends a request early with `status` (raised deep in parsing, answered in one place)."""

    def __init__(self, status: int, message: str, close: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.close = close


def _media_type(header: str | None) -> str:
    return (header or "").split(";", 1)[0].strip().lower()


class _Handler(TrackedHandler):
    server_version = "MollieLedgerWebhooks/1.0"
    # Bytes of an oversized body discarded before closing, so the client reads our 413 instead
    # of a connection reset (closing a socket with unread input sends RST).
    LINGER_BYTES = 1 << 20
    LINGER_SECONDS = 1.0

    def setup(self) -> None:
        # Every recv is bounded, so an idle or stalled client times out and frees its thread.
        self.timeout = self.server.owner.read_timeout
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # The path only: a query string could carry a token someone put in the webhook URL.
        log.debug('"%s %s" %s', self.command, urlsplit(self.path).path, code)

    # -- responses --------------------------------------------------------------------------
    def _send(self, status: int, body: dict[str, Any], close: bool = False) -> None:
        data = json.dumps(body, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status == 405:
            self.send_header("Allow", "POST")
        if close:
            self.close_connection = True
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _linger(self) -> None:
        """Discard what the client still sends, bounded in bytes and time, then let it close."""
        self.wfile.flush()
        deadline = time.monotonic() + self.LINGER_SECONDS
        left = self.LINGER_BYTES
        try:
            self.connection.shutdown(socket.SHUT_WR)
            while left > 0 and (remaining := deadline - time.monotonic()) > 0:
                self.connection.settimeout(remaining)
                chunk = self.connection.recv(min(left, 65536))
                if not chunk:
                    break
                left -= len(chunk)
        except OSError:
            pass

    def _refuse(self, reply: _Reply) -> None:
        self._send(reply.status, {"error": reply.message}, close=reply.close)
        if reply.status == 413:
            self._linger()

    # -- request parsing --------------------------------------------------------------------
    def _content_length(self) -> int:
        if self.headers.get("Transfer-Encoding"):
            raise _Reply(411, "send the body with a Content-Length", close=True)
        raw = self.headers.get("Content-Length")
        if raw is None or not raw.strip().isdigit():
            raise _Reply(411, "a Content-Length is required", close=True)
        length = int(raw)
        if length > self.server.owner.max_body_bytes:
            raise _Reply(413, "body too large", close=True)
        return length

    def handle_expect_100(self) -> bool:
        # Refuse an oversized body before the client sends it.
        try:
            self._content_length()
        except _Reply as reply:
            self._send(reply.status, {"error": reply.message}, close=True)
            return False
        return super().handle_expect_100()

    def _read_body(self, length: int) -> bytes:
        """Exactly `length` bytes, within `read_timeout` in total (a trickle cannot stretch it)."""
        timeout = self.server.owner.read_timeout
        deadline = time.monotonic() + timeout
        parts: list[bytes] = []
        left = length
        try:
            while left > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError
                self.connection.settimeout(remaining)
                chunk = self.rfile.read1(left)
                if not chunk:
                    raise _Reply(400, "body shorter than its Content-Length", close=True)
                parts.append(chunk)
                left -= len(chunk)
        except TimeoutError:
            raise _Reply(408, "body not received in time", close=True) from None
        self.connection.settimeout(timeout)  # back to the per-recv bound for keep-alive
        return b"".join(parts)

    # -- methods ----------------------------------------------------------------------------
    def do_POST(self) -> None:
        owner = self.server.owner
        try:
            body = self._read_body(self._content_length())
            signature = self.headers.get(SIGNATURE_HEADER)
            media = _media_type(self.headers.get("Content-Type"))
            if signature is not None:
                status, reply = owner.receive_event(body, signature, self.client_address[0])
            elif media == "application/x-www-form-urlencoded":
                status, reply = owner.receive_hint(body)
            elif media == "application/json":
                log.warning("refused an unsigned JSON webhook from %s", self.client_address[0])
                raise _Reply(401, f"missing {SIGNATURE_HEADER}")
            else:
                raise _Reply(415, "expected a signed JSON event or a form body id=…")
        except _Reply as reply:
            self._refuse(reply)
            return
        except Exception:  # a bug or a broken queue: never acknowledge what was not stored
            log.exception("webhook receiver failed")
            self._send(500, {"error": "not recorded"})
            return
        self._send(status, reply)

    def _not_allowed(self) -> None:
        # Any body is left unread: the connection closes instead of being parsed as a request.
        self._send(405, {"error": "POST only"}, close=True)

    do_GET = do_HEAD = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _not_allowed


class WebhookServer(BackgroundHTTPService):
    """The webhook receiver on host:port in a background thread (`port=0`: any free port).

    Answers: 200 recorded (or a duplicate, ignored); 400 malformed; 401 bad or missing
    signature; 405 not POST; 408 body too slow; 411 no Content-Length; 413 body over
    `max_body_bytes`; 415 neither JSON nor a form; 503 a signed event but no secrets configured.
    Only a 200 records anything.
    """

    handler_class = _Handler
    thread_name = "webhooks"

    def __init__(
        self,
        queue: WebhookQueue,
        secrets: Iterable[str],
        host: str = "127.0.0.1",
        port: int = 0,
        max_body_bytes: int = 64 * 1024,
        read_timeout: float = 10.0,
    ) -> None:
        super().__init__(host, port)
        self.queue = queue
        self._secrets = [s for s in secrets if s]  # private: never in a repr or a log
        self.max_body_bytes = max_body_bytes
        self.read_timeout = read_timeout

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def start(self) -> WebhookServer:
        return super().start()

    def _started(self) -> None:
        if not self._secrets:
            log.warning(
                "%s is not set: signed next-gen webhook events will be refused (503). Set it to "
                "the webhook's secret (Mollie Dashboard → Developers → Webhooks; during a "
                "rotation, old and new separated by a comma). Classic webhooks are still "
                "recorded as re-fetch hints.",
                ENV_SECRETS,
            )

    def receive_event(self, body: bytes, signature: str, client: str) -> tuple[int, dict]:
        if not self._secrets:
            log.error("refused a signed webhook event: %s is not set", ENV_SECRETS)
            raise _Reply(503, "no webhook secret configured")
        if not verify_signature(body, signature, self._secrets):
            log.warning("refused a webhook event with a bad signature from %s", client)
            raise _Reply(401, "invalid signature")
        try:
            event = json.loads(body)
        except (UnicodeDecodeError, ValueError):
            raise _Reply(400, "the body is not JSON") from None
        if not isinstance(event, dict) or event.get("resource") != "event":
            raise _Reply(400, 'expected {"resource": "event", …}')
        event_id, type_, entity_id = event.get("id"), event.get("type"), event.get("entityId")
        if not (
            isinstance(event_id, str)
            and MOLLIE_ID.fullmatch(event_id)
            and isinstance(type_, str)
            and EVENT_TYPE.fullmatch(type_)
            and isinstance(entity_id, str)
            and MOLLIE_ID.fullmatch(entity_id)
        ):
            raise _Reply(400, "the event needs a Mollie id, type and entityId")
        new = self.queue.put_event(event_id, type_, entity_id, body.decode())
        log.info("webhook event %s %s %s", event_id, type_, "recorded" if new else "duplicate")
        return 200, {"id": event_id, "status": "recorded" if new else "duplicate"}

    def receive_hint(self, body: bytes) -> tuple[int, dict]:
        try:
            form = parse_qs(body.decode("ascii"), strict_parsing=True, max_num_fields=8)
        except ValueError:  # also UnicodeDecodeError
            raise _Reply(400, "expected a form body id=…") from None
        ids = form.get("id", [])
        if len(ids) != 1 or not MOLLIE_ID.fullmatch(ids[0]):
            raise _Reply(400, "expected one Mollie id")
        entity_id = ids[0]
        new = self.queue.put_hint(entity_id)
        log.info("webhook hint %s %s", entity_id, "recorded" if new else "already queued")
        return 200, {"id": entity_id, "status": "recorded" if new else "duplicate"}


# -- the blocking command ---------------------------------------------------------------------


def _stdout(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def serve_webhooks(
    port: int = DEFAULT_PORT,
    host: str = "127.0.0.1",
    queue_path: str | os.PathLike[str] | None = None,
    secrets: Iterable[str] | None = None,
    *,
    echo: Callable[[str], None] = _stdout,
    stop: threading.Event | None = None,
) -> None:
    """Receive webhooks until Ctrl-C, SIGTERM or `stop` is set (the `mollie-ledger webhooks`
    command). `secrets` default to `MOLLIE_WEBHOOK_SECRETS`, the queue to
    `MOLLIE_LEDGER_WEBHOOK_QUEUE` or data/webhooks.sqlite. Prints how many secrets, never them."""
    secrets = secrets_from_env() if secrets is None else [s for s in secrets if s]
    stop = stop or threading.Event()
    previous = None
    if threading.current_thread() is threading.main_thread():  # signals reach the main thread
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        with (
            WebhookQueue(queue_path_from_env(queue_path)) as queue,
            WebhookServer(queue, secrets, host=host, port=port) as server,
        ):
            echo(f"Mollie webhooks: listening on {server.url} (POST), queue {queue.path}")
            if secrets:
                echo(f"  {len(secrets)} webhook secret(s) configured: signed events accepted")
            else:
                echo(
                    f"  no {ENV_SECRETS} set: signed next-gen events are refused (503); "
                    "classic id-only webhooks are recorded as re-fetch hints"
                )
            echo("Press Ctrl-C to stop.")
            try:
                stop.wait()
            except KeyboardInterrupt:
                pass
        echo("Webhook receiver stopped.")
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
