"""The durable queue of received Mollie webhooks, and which raw tables each one asks to refresh.

The receiver (`extract.webhooks`) writes it; the webhook sensor in orchestration/ reads it from
another process and turns what it finds into refresh runs (`tables_to_refresh`).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ENV_QUEUE = "MOLLIE_LEDGER_WEBHOOK_QUEUE"
DEFAULT_QUEUE = Path("data/webhooks.sqlite")


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
