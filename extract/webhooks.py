"""Receiving Mollie webhooks: verify them, queue them durably, and say which tables to refresh.

Two kinds arrive (Mollie's webhook documentation):

- next-gen events: JSON `{"resource": "event", "id", "type", "entityId", …}` signed with
  `X-Mollie-Signature: sha256=<hex>` (HMAC-SHA256 of the raw body). Only a signature that matches
  one of the configured secrets (several during a rotation) gets an event recorded.
- classic webhooks: a form body `id=tr_…`, unsigned. Anyone can send one, so it is recorded only
  as a *hint* to re-fetch that object from the API, never as data.

Nothing here trusts a webhook as a source of truth: the queue (`extract.webhook_queue`) only tells
the orchestrator which streams to refresh (`tables_to_refresh`); the data itself always comes from
the API. This module is the receiving side: signature checks and the HTTP receiver.

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
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from extract.http_server import BackgroundHTTPService, TrackedHandler
from extract.webhook_queue import WebhookQueue, queue_path_from_env

log = logging.getLogger("mollie_ledger.webhooks")

SIGNATURE_HEADER = "X-Mollie-Signature"
SIGNATURE_PREFIX = "sha256="
ENV_SECRETS = "MOLLIE_WEBHOOK_SECRETS"
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
