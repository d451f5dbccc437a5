"""Post the journal entries to Frappe through the outbox: each entry once, whatever happens.

For every entry of marts.journal_entries, by its current outbox state:

    posted          skipped (a changed payload is only reported: ERPNext needs a human to
                    cancel and re-post under a new key)
    pending/failed  a previous run may have reached Frappe before recording the answer:
                    look the entry up by `mollie_posting_key` first, record it if found
    new / review    build the payload (or send it to review: unsupported currency, unbalanced),
                    record `pending` with its hash, POST it with `docstatus: 1`, record the answer

Answers: success → `posted` with the document name; a uniqueness clash → look the name up and
record `posted` (it was already there); 417 → `review` with Frappe's message, the run goes on;
429/5xx/lost connection → retried with backoff, and before every retry the entry is looked up,
because the lost answer may belong to a committed insert; retries exhausted → `failed` (next
run looks it up first); 401/403 or a site not set up → the run stops with the configuration
message, nothing further is sent and nothing is marked posted that Frappe did not confirm.

Before anything is sent, entries posted under the per-settlement model (`mollie-settlement-…`)
are looked up: while any still stands in Frappe the run stops with LegacyEntriesError (the new
entries would book the same sales again); once each is cancelled there, it is recorded as
retired and the run goes on. A posted entry the models no longer produce is reported
(`vanished_after_posting`, and in export.review), never dropped silently.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import duckdb

from export.frappe_client import (
    FrappeClient,
    FrappeConfigurationError,
    FrappeDoc,
    FrappeDuplicateError,
    FrappeError,
    FrappeNotFoundError,
    FrappeValidationError,
)
from export.journal import (
    LEGACY_KEY_PREFIX,
    HeldEntry,
    JournalEntry,
    SettlementInReview,
    held_entries,
    load_entries,
    mismatched_settlements,
)
from export.outbox import (
    FAILED,
    LEGACY_RETIRED,
    PENDING,
    POSTED,
    REVIEW,
    Outbox,
    OutboxRow,
    ensure_review_view,
    latest_states,
)
from export.payload import DOCTYPE, POSTING_KEY_FIELD, Payload, PayloadError, prepare

# What happened to an entry in this run.
NEWLY_POSTED = "posted"
ALREADY_POSTED = "already_posted"  # found in Frappe (lookup or uniqueness clash), recorded now
UNCHANGED = "unchanged"  # posted in an earlier run, nothing sent
IN_REVIEW = "review"
FAILED_NOW = "failed"
RESULTS = (NEWLY_POSTED, ALREADY_POSTED, UNCHANGED, IN_REVIEW, FAILED_NOW)
_PROBE_KEY = "mollie-ledger-probe"


class LegacyEntriesError(FrappeConfigurationError):
    """Entries of the per-settlement model still stand in Frappe: posting the clearing-account
    model's entries next to them would book the same receipts twice."""


def legacy_keys(con: duckdb.DuckDBPyConnection, states: dict[str, OutboxRow]) -> list[str]:
    """Per-settlement keys this warehouse sent to Frappe and has not seen cancelled yet."""
    keys = [
        key
        for key, row in states.items()
        if key.startswith(LEGACY_KEY_PREFIX) and row.status in (POSTED, PENDING, FAILED, REVIEW)
    ]
    if not keys:
        return []
    retired = {
        key
        for (key,) in con.execute(
            "select posting_key from export.audit_log where action = ?", [LEGACY_RETIRED]
        ).fetchall()
    }
    return sorted(k for k in keys if k not in retired)


def vanished_keys(states: dict[str, OutboxRow], current: Iterable[str]) -> list[str]:
    """Posted entries (not of the per-settlement model) that the models no longer produce."""
    current = set(current)
    return sorted(
        key
        for key, row in states.items()
        if row.status == POSTED and key not in current and not key.startswith(LEGACY_KEY_PREFIX)
    )


@dataclass(frozen=True)
class PlannedEntry:
    entry: JournalEntry
    payload: Payload | None  # None when the entry cannot be posted as it is
    problem: PayloadError | None = None

    @property
    def key(self) -> str:
        return self.entry.posting_key


def plan(con: duckdb.DuckDBPyConnection, company_currency: str) -> list[PlannedEntry]:
    """Every entry with its exact payload, or the reason it cannot be posted."""
    planned = []
    for entry in load_entries(con):
        try:
            planned.append(PlannedEntry(entry, prepare(entry, company_currency=company_currency)))
        except PayloadError as exc:
            planned.append(PlannedEntry(entry, None, exc))
    return planned


@dataclass(frozen=True)
class Outcome:
    posting_key: str
    result: str  # one of RESULTS
    frappe_name: str | None = None
    message: str | None = None


@dataclass
class PostingReport:
    run_id: str
    site: str
    outcomes: list[Outcome] = field(default_factory=list)
    settlements_in_review: list[SettlementInReview] = field(default_factory=list)
    changed_after_posting: list[str] = field(default_factory=list)
    entries_held: list[HeldEntry] = field(default_factory=list)
    vanished_after_posting: list[str] = field(default_factory=list)
    legacy_retired: list[str] = field(default_factory=list)

    def keys(self, result: str) -> list[str]:
        return [o.posting_key for o in self.outcomes if o.result == result]

    def counts(self) -> dict[str, int]:
        out = {r: len(self.keys(r)) for r in RESULTS}
        out["settlements_in_review"] = len(self.settlements_in_review)
        out["changed_after_posting"] = len(self.changed_after_posting)
        out["entries_held"] = len(self.entries_held)
        out["vanished_after_posting"] = len(self.vanished_after_posting)
        out["legacy_retired"] = len(self.legacy_retired)
        return out

    @property
    def failed(self) -> int:
        return len(self.keys(FAILED_NOW))


def check_site(client: FrappeClient, companies: set[str], company_currency: str) -> str:
    """Fail fast, before anything is recorded, when the site cannot take our entries safely:
    bad credentials, no `mollie_posting_key` field (without it Frappe would silently drop the
    key and idempotency would be gone), an unknown company, or another currency."""
    user = client.logged_user()
    try:
        client.find(DOCTYPE, POSTING_KEY_FIELD, _PROBE_KEY)
    except (FrappeValidationError, FrappeNotFoundError) as exc:
        raise FrappeConfigurationError(
            f"Frappe at {client.site} cannot look Journal Entries up by {POSTING_KEY_FIELD} "
            f"({exc}): import the Custom Field export/fixtures/custom_field.json first "
            "(see export/README.md)"
        ) from None
    for company in sorted(companies):
        try:
            currency = client.get_doc("Company", company).get("default_currency")
        except FrappeNotFoundError:
            raise FrappeConfigurationError(
                f"Company {company!r} does not exist in Frappe at {client.site}: set [books] "
                "company in the ledger configuration to the ERPNext company's name"
            ) from None
        if currency != company_currency:
            raise FrappeConfigurationError(
                f"Company {company!r} keeps its books in {currency}, but the ledger "
                f"configuration says [books] company_currency = {company_currency!r}"
            )
    return user


class JournalPoster:
    """One posting run: plan, check the site, then each entry through the outbox."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        client: FrappeClient,
        *,
        company_currency: str,
        run_id: str | None = None,
    ) -> None:
        self.con = con
        self.client = client
        self.company_currency = company_currency
        self.outbox = Outbox(con, site=client.site, run_id=run_id)
        self.report = PostingReport(self.outbox.run_id, client.site)

    def run(self) -> PostingReport:
        planned = plan(self.con, self.company_currency)
        ensure_review_view(self.con)
        self.report.settlements_in_review = mismatched_settlements(self.con)
        self.report.entries_held = held_entries(self.con)
        states = latest_states(self.con)
        self.report.vanished_after_posting = vanished_keys(states, (p.key for p in planned))
        for key in self.report.vanished_after_posting:
            self.outbox.audit(
                "vanished_after_posting",
                posting_key=key,
                outcome=states[key].frappe_name,
                detail="posted, but the models no longer produce this entry: see export.review",
            )
        try:
            if planned:
                user = check_site(
                    self.client, {p.entry.company for p in planned}, self.company_currency
                )
                self.outbox.audit(
                    "run_started", outcome=user, detail=f"{len(planned)} entries to check"
                )
                self._retire_legacy(legacy_keys(self.con, states))
            for item in planned:
                self.report.outcomes.append(self._one(item, states.get(item.key)))
        except FrappeError as exc:
            self.outbox.audit(
                "run_stopped",
                http_status=exc.status,
                outcome=type(exc).__name__,
                detail=exc.message,
            )
            raise
        counts = self.report.counts()
        self.outbox.audit("run_finished", detail=", ".join(f"{k} {v}" for k, v in counts.items()))
        return self.report

    def _retire_legacy(self, keys: list[str]) -> None:
        """Stop unless every per-settlement entry this warehouse posted is cancelled in Frappe."""
        standing: list[str] = []
        for key in keys:
            docs = self._lookup(key)
            live = [d for d in docs if d.docstatus in (0, 1)]
            if live:
                standing.append(f"{key} ({', '.join(d.name for d in live)})")
                continue
            self.outbox.audit(
                LEGACY_RETIRED,
                posting_key=key,
                outcome="cancelled" if docs else "not_found",
                detail="per-settlement entry no longer stands in Frappe",
            )
            self.report.legacy_retired.append(key)
        if standing:
            shown = ", ".join(standing[:5]) + (
                f" and {len(standing) - 5} more" if len(standing) > 5 else ""
            )
            raise LegacyEntriesError(
                f"{len(standing)} journal entries posted under the per-settlement model still "
                f"stand in Frappe at {self.client.site}: {shown}. The books now book each day's "
                "Mollie activity against the clearing account and each payout to Bank "
                "(docs/accounting.md); posting those entries next to these would book the same "
                "receipts twice. Cancel them in ERPNext (Journal Entry list, filter Mollie "
                f"Posting Key like {LEGACY_KEY_PREFIX}%, Cancel), then run the export again: it "
                "checks each is cancelled and posts the new entries. Nothing was posted "
                "(export/README.md, Migrating from per-settlement entries)."
            )

    # -- one entry ---------------------------------------------------------------------------
    def _one(self, item: PlannedEntry, latest: OutboxRow | None) -> Outcome:
        if latest is not None and latest.status == POSTED:
            self._note_if_changed(item, latest)
            return Outcome(item.key, UNCHANGED, latest.frappe_name)
        if latest is not None and latest.status in (PENDING, FAILED):
            # The previous run may have posted it and died (or lost the answer) before
            # recording; Frappe knows, so ask before sending anything.
            found = self._lookup(item.key)
            if found:
                return self._found(item, found, attempts=0)
        if item.problem is not None:
            return self._review(item, item.problem.kind, str(item.problem), latest=latest)
        return self._send(item)

    def _note_if_changed(self, item: PlannedEntry, latest: OutboxRow) -> None:
        if item.payload is None or latest.payload_sha256 in (None, item.payload.sha256):
            return
        self.report.changed_after_posting.append(item.key)
        self.outbox.audit(
            "changed_after_posting",
            posting_key=item.key,
            outcome=latest.frappe_name,
            detail="the entry differs from what was posted; cancel it in ERPNext and post the "
            "correction under a new key (not done automatically)",
        )

    def _send(self, item: PlannedEntry) -> Outcome:
        assert item.payload is not None
        self.outbox.record(item.key, PENDING, source_id=item.entry.source_id, payload=item.payload)
        attempts = 0
        try:
            for attempt in self.client.retrying():
                with attempt:
                    if attempts:
                        # The previous POST's answer was lost or was a 5xx: it may have been
                        # committed all the same. Look before sending again.
                        found = self._lookup(item.key)
                        if found:
                            return self._found(item, found, attempts=attempts)
                    attempts += 1
                    doc = self._insert(item)
        except FrappeDuplicateError as exc:
            found = self._lookup(item.key)
            if found:
                return self._found(item, found, attempts=attempts)
            # Some other unique value clashed: not ours to resolve.
            return self._review(
                item, exc.exc_type or "DuplicateEntryError", exc.message, attempts=attempts
            )
        except FrappeValidationError as exc:
            message = exc.message
            if exc.exc_type == "FiscalYearError":
                # Entries are dated the day the money moved: the site needs a fiscal year there.
                message += (
                    f" (create the Fiscal Year holding {item.entry.posting_date.isoformat()} in "
                    "ERPNext, then run the export again)"
                )
            return self._review(item, exc.exc_type or "ValidationError", message, attempts=attempts)
        except FrappeConfigurationError as exc:
            self._fail(item, exc, attempts)
            raise
        except FrappeError as exc:  # retries exhausted, 404, anything unexpected
            return self._fail(item, exc, attempts)
        self.outbox.record(
            item.key,
            POSTED,
            source_id=item.entry.source_id,
            payload_sha256=item.payload.sha256,
            frappe_name=doc.name,
            attempts=attempts,
        )
        return Outcome(item.key, NEWLY_POSTED, doc.name)

    def _insert(self, item: PlannedEntry) -> FrappeDoc:
        assert item.payload is not None
        try:
            doc = self.client.insert(DOCTYPE, item.payload.body)
        except FrappeError as exc:
            self.outbox.audit(
                "insert",
                posting_key=item.key,
                http_status=exc.status,
                outcome=type(exc).__name__,
                detail=exc.message,
            )
            raise
        self.outbox.audit(
            "insert", posting_key=item.key, http_status=200, outcome=POSTED, detail=doc.name
        )
        return doc

    def _lookup(self, key: str) -> list[FrappeDoc]:
        found = self.client.find(DOCTYPE, POSTING_KEY_FIELD, key)
        self.outbox.audit(
            "lookup",
            posting_key=key,
            http_status=200,
            outcome="found" if found else "not_found",
            detail=", ".join(f"{d.name} (docstatus {d.docstatus})" for d in found),
        )
        return found

    def _found(self, item: PlannedEntry, docs: list[FrappeDoc], *, attempts: int) -> Outcome:
        submitted = [d for d in docs if d.docstatus == 1]
        if submitted:
            name = submitted[0].name
            self.outbox.record(
                item.key,
                POSTED,
                source_id=item.entry.source_id,
                payload_sha256=item.payload.sha256 if item.payload else None,
                frappe_name=name,
                attempts=attempts,
                message="found in Frappe by its posting key: already posted",
            )
            return Outcome(item.key, ALREADY_POSTED, name)
        doc = docs[-1]
        if doc.docstatus == 2:
            message = (
                f"posted as {doc.name} and cancelled in Frappe; a cancelled entry keeps "
                "its posting key, so posting it again needs a new key"
            )
        else:
            message = (
                f"exists in Frappe as draft {doc.name}, not submitted: submit or delete "
                "it there, then rerun"
            )
        return self._review(
            item, "exists_in_frappe", message, attempts=attempts, frappe_name=doc.name
        )

    def _review(
        self,
        item: PlannedEntry,
        kind: str,
        message: str,
        *,
        latest: OutboxRow | None = None,
        attempts: int = 0,
        frappe_name: str | None = None,
    ) -> Outcome:
        # A state change is a new row; the same reason again is not a change.
        unchanged = latest is not None and latest.status == REVIEW and latest.message == message
        if not unchanged:
            self.outbox.record(
                item.key,
                REVIEW,
                source_id=item.entry.source_id,
                payload_sha256=item.payload.sha256 if item.payload else None,
                frappe_name=frappe_name,
                error_type=kind,
                message=message,
                attempts=attempts,
            )
        return Outcome(item.key, IN_REVIEW, frappe_name, message)

    def _fail(self, item: PlannedEntry, exc: FrappeError, attempts: int) -> Outcome:
        self.outbox.record(
            item.key,
            FAILED,
            source_id=item.entry.source_id,
            payload_sha256=item.payload.sha256 if item.payload else None,
            error_type=exc.exc_type or type(exc).__name__,
            message=exc.message,
            attempts=attempts,
        )
        return Outcome(item.key, FAILED_NOW, None, exc.message)


def post_entries(
    con: duckdb.DuckDBPyConnection,
    client: FrappeClient,
    *,
    company_currency: str,
    run_id: str | None = None,
) -> PostingReport:
    """Post every entry not yet posted; see the module docstring."""
    return JournalPoster(con, client, company_currency=company_currency, run_id=run_id).run()
