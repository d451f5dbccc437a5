"""The posting outbox and audit trail in DuckDB: `export.outbox`, `export.audit_log`.

Both tables are append-only: rows are inserted, never updated or deleted, so the history of
every entry stays readable. An entry's current state is its latest outbox row
(`export.outbox_current`):

    pending  recorded, with its payload and hash, BEFORE the request is sent; if the run dies
             here, the next run looks the entry up in Frappe before sending it again
    posted   Frappe holds it (document name recorded)
    review   Frappe refused it (417, message decoded) or it cannot be posted as it is
             (unsupported currency, unbalanced): a human has to act
    failed   no definite answer (retries exhausted) or an unexpected error; retried next run

`export.audit_log` records what happened around the states: lookups, every insert attempt and
its HTTP answer, retries, runs started, stopped and finished. `export.review` lists everything
waiting for a human: entries Frappe refused, entries the models hold (with the reason),
settlements that do not reconcile, posted entries the models no longer produce, and entries
posted under the per-settlement model that still wait to be cancelled (export/README.md).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import duckdb

from export.journal import HELD_ENTRIES_SQL, LEGACY_KEY_PREFIX, MISMATCHED_SETTLEMENTS_SQL
from export.payload import Payload

PENDING, POSTED, REVIEW, FAILED = "pending", "posted", "review", "failed"
# Audit action recording that an entry of the per-settlement model is cancelled in Frappe.
LEGACY_RETIRED = "legacy_retired"
STATUSES = (PENDING, POSTED, REVIEW, FAILED)

_DDL = (
    "create schema if not exists export",
    "create sequence if not exists export.outbox_seq",
    "create sequence if not exists export.audit_log_seq",
    f"""
    create table if not exists export.outbox (
        seq            bigint primary key default nextval('export.outbox_seq'),
        recorded_at    timestamptz not null default current_timestamp,
        run_id         varchar not null,
        site           varchar,          -- the Frappe base URL (never credentials)
        posting_key    varchar not null,
        source_id      varchar,          -- settlement or invoice id
        status         varchar not null check (status in {STATUSES!r}),
        payload_sha256 varchar,
        payload        varchar,          -- the exact JSON sent (accounts and amounts, no PII)
        frappe_name    varchar,          -- the Journal Entry's name once posted
        error_type     varchar,          -- Frappe's exc_type, or ours (unsupported_currency, ...)
        message        varchar,          -- the decoded answer or the reason for review
        attempts       integer not null default 0  -- POSTs made for this state change
    )""",
    """
    create table if not exists export.audit_log (
        seq          bigint primary key default nextval('export.audit_log_seq'),
        recorded_at  timestamptz not null default current_timestamp,
        run_id       varchar not null,
        site         varchar,
        posting_key  varchar,
        action       varchar not null,   -- run_started, lookup, insert, run_finished, ...
        http_status  integer,
        outcome      varchar,
        detail       varchar
    )""",
    """
    create or replace view export.outbox_current as
    select * from export.outbox
    qualify row_number() over (partition by posting_key order by seq desc) = 1""",
)


@dataclass(frozen=True)
class OutboxRow:
    posting_key: str
    status: str
    payload_sha256: str | None
    frappe_name: str | None
    error_type: str | None
    message: str | None
    recorded_at: datetime


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    for statement in _DDL:
        con.execute(statement)


def ensure_review_view(con: duckdb.DuckDBPyConnection) -> None:
    """`export.review`: what waits for a human (see the module docstring).

    A view, so it is always current with the marts; it needs marts.settlement_reconciliation,
    marts.journal_entry_status and marts.journal_entries.
    """
    ensure_schema(con)
    con.execute(f"""
        create or replace view export.review as
        select posting_key, source_id, error_type as kind, message as reason,
               recorded_at as since
        from export.outbox_current
        where status = '{REVIEW}'
        union all
        select posting_key, source_id, 'held', reason, null::timestamptz
        from ({HELD_ENTRIES_SQL})
        union all
        select null, settlement_id, 'settlement_mismatch', reason, null::timestamptz
        from ({MISMATCHED_SETTLEMENTS_SQL})
        union all
        select o.posting_key, o.source_id,
               case when o.posting_key like '{LEGACY_KEY_PREFIX}%' then 'legacy_entry'
                    else 'vanished_after_posting' end,
               case when o.posting_key like '{LEGACY_KEY_PREFIX}%' then
                    'posted as ' || coalesce(o.frappe_name, '?') || ' under the per-settlement '
                    || 'model, which the clearing-account model replaces: cancel it in ERPNext, '
                    || 'then run the export again (export/README.md, Migrating)'
               else
                    'posted as ' || coalesce(o.frappe_name, '?') || ', but the models no longer '
                    || 'produce it' || coalesce(' (held: ' || s.hold_reason || ')', '')
                    || ': find out why, then cancel or correct it in ERPNext by hand'
               end,
               o.recorded_at
        from export.outbox_current as o
        left join marts.journal_entry_status as s using (posting_key)
        where o.status = '{POSTED}'
            and o.posting_key not in (select posting_key from marts.journal_entries)
            and o.posting_key not in (
                select posting_key from export.audit_log
                where action = '{LEGACY_RETIRED}' and posting_key is not null
            )
    """)


def latest_states(con: duckdb.DuckDBPyConnection) -> dict[str, OutboxRow]:
    """posting key → its current (latest) outbox row; reads only (the dry run writes nothing)."""
    exists = con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'export' and table_name = 'outbox_current'"
    ).fetchone()[0]
    if not exists:
        return {}
    rows = con.execute(
        "select posting_key, status, payload_sha256, frappe_name, error_type, message, "
        "recorded_at from export.outbox_current"
    ).fetchall()
    return {r[0]: OutboxRow(*r) for r in rows}


class Outbox:
    """Appends state changes and audit events for one run."""

    def __init__(
        self, con: duckdb.DuckDBPyConnection, *, site: str, run_id: str | None = None
    ) -> None:
        ensure_schema(con)
        self.con = con
        self.site = site
        self.run_id = run_id or uuid.uuid4().hex

    def record(
        self,
        posting_key: str,
        status: str,
        *,
        source_id: str | None = None,
        payload: Payload | None = None,
        payload_sha256: str | None = None,
        frappe_name: str | None = None,
        error_type: str | None = None,
        message: str | None = None,
        attempts: int = 0,
    ) -> None:
        """Append one state change (autocommitted: durable before the next request goes out)."""
        if status not in STATUSES:
            raise ValueError(f"unknown outbox status {status!r}")
        self.con.execute(
            "insert into export.outbox (run_id, site, posting_key, source_id, status, "
            "payload_sha256, payload, frappe_name, error_type, message, attempts) "
            "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                self.run_id,
                self.site,
                posting_key,
                source_id,
                status,
                payload.sha256 if payload else payload_sha256,
                payload.body.decode("utf-8") if payload else None,
                frappe_name,
                error_type,
                message,
                attempts,
            ],
        )

    def audit(
        self,
        action: str,
        *,
        posting_key: str | None = None,
        http_status: int | None = None,
        outcome: str | None = None,
        detail: str | None = None,
    ) -> None:
        self.con.execute(
            "insert into export.audit_log (run_id, site, posting_key, action, http_status, "
            "outcome, detail) values (?, ?, ?, ?, ?, ?, ?)",
            [self.run_id, self.site, posting_key, action, http_status, outcome, detail],
        )
