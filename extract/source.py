"""The dlt source for Mollie finance data: one resource per raw table (docs/design.md).

Incremental rules (docs/design.md, Extraction), with state kept by dlt (locally and in the
destination, so it survives a lost working folder):

- `balance_transactions` is an immutable ledger: walk each balance newest-first and stop at the
  newest id loaded last time (the `from` cursor is inclusive, so rows merge on `id`).
- `payments`, `refunds`, `chargebacks`, `customers`, `subscriptions` are mutable. Every run walks
  them newest-first to the newest `createdAt` loaded last time (the new objects: one page when
  nothing is new). A look-back sweep reads on to (that mark − look-back window; subscriptions:
  their whole history, they change anywhere in it) to pick up changed objects, when money moved
  (a balance's newest ledger row is not the one seen at the last sweep: refunds, chargebacks and
  settlements change the payments they touch) or the last sweep is `sweep_hours` old (changes
  that move no money: an open payment expiring, a subscription canceled). So a daily run sweeps,
  and a rerun minutes later with nothing new costs a request or two per list. Merge on `id`.
- `settlements`, `invoices`, `balances`, `profiles`, `organizations` are small: read whole each
  run, merge on `id` (periods come with the settlement). A settlement's sub-lists are read until
  the settlement is final (`paidout` or `failed`), then never again; an open one's only when the
  settlement object changed since they were last read (a new payment changes its amount and
  periods).
- `balance_reports`: one `status-balances` report per balance and Amsterdam day, from the last
  day loaded (re-read, it may have been incomplete) up to the day of the newest ledger row; a
  first load goes `report_days` back, but not before the balance was created.

With an organization token Mollie requires `profileId` on `/payments`, `/refunds` and settlement
payments, so those are read once per profile (state per profile). Records that cannot be mapped
go to `quarantine` with the reason and the raw JSON.

Over 500 lines on purpose: `mollie_source` is one dlt source whose resources are closures over
the same per-run client, cached short lists and state lock (a settlement's sub-lists are read
from worker threads), so its resources stay in one function; the helpers above it are small
and tested on their own.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import dlt
import orjson
from dlt.sources import DltResource

from extract.arrow_rows import coalesced, to_arrow
from extract.client import MollieClient
from extract.parse import parse_timestamp
from extract.records import (
    QUARANTINE_COLUMNS,
    QUARANTINE_TABLE,
    TABLES,
    Row,
    clip_reason,
    object_id,
    quarantine_row,
)
from extract.settings import ClientSettings

log = logging.getLogger("mollie_ledger.extract")
AMS = ZoneInfo("Europe/Amsterdam")
FINAL_SETTLEMENT_STATUSES = {"paidout", "failed"}
SUBLISTS = ("payments", "refunds", "chargebacks", "captures")
DEFAULT_LOOKBACK_DAYS = 60
# Under a day, so a daily schedule sweeps every run; reruns and webhook runs between do not.
DEFAULT_SWEEP_HOURS = 12.0
DEFAULT_REPORT_DAYS = 120
SUBLIST_WORKERS = 4  # bounded concurrency for settlement sub-lists

# Every raw table (docs/design.md, Flow and table contract) is one resource, in the order of the
# table contract.
ALL_RESOURCES = tuple(TABLES)


class Progress:
    """Counts rows and pages per table; on long loads logs a line per table every little while.

    Thread-safe: settlement sub-lists are mapped in a small thread pool.
    """

    def __init__(self, every_seconds: float = 10.0, clock: Callable[[], float] = time.monotonic):
        self.rows: dict[str, int] = {}
        self.pages: dict[str, int] = {}
        self.quarantined: dict[str, int] = {}
        self._every = every_seconds
        self._clock = clock
        self._last_log: dict[str, float] = {}
        self._lock = threading.Lock()

    def page(self, table: str, n_rows: int, n_quarantined: int = 0) -> None:
        """Count one page of `table`: `n_rows` rows mapped, `n_quarantined` records refused."""
        now = self._clock()
        with self._lock:
            rows = self.rows[table] = self.rows.get(table, 0) + n_rows
            pages = self.pages[table] = self.pages.get(table, 0) + 1
            if n_quarantined:
                self.quarantined[table] = self.quarantined.get(table, 0) + n_quarantined
            due = now - self._last_log.setdefault(table, now) >= self._every
            if due:
                self._last_log[table] = now
        if due:
            log.info("%s: %d rows from %d pages so far", table, rows, pages)


MERGE = {"disposition": "merge", "strategy": "delete-insert"}
T = TypeVar("T")
R = TypeVar("R")


def bounded_map(
    pool: ThreadPoolExecutor, fn: Callable[[T], R], items: Iterable[T], window: int
) -> Iterator[R]:
    """`pool.map(fn, items)`, in order, with at most `window` results running or waiting.

    `Executor.map` submits every item at once, so the mapped rows of every settlement on a page
    (a year of settlement payments) would wait in memory together; this keeps memory flat.
    """
    pending: deque[Future[R]] = deque()
    for item in items:
        pending.append(pool.submit(fn, item))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def fingerprint(obj: Mapping[str, Any]) -> str:
    """A digest of an API object's content (its `_links` left out): equal means unchanged."""
    body = {k: v for k, v in obj.items() if k != "_links"}
    return hashlib.blake2b(
        orjson.dumps(body, option=orjson.OPT_SORT_KEYS, default=str), digest_size=16
    ).hexdigest()


def sweep_due(
    last: Mapping[str, Any], heads: Mapping[str, str | None], now: datetime, every: timedelta
) -> bool:
    """Whether a mutable list's look-back sweep is due (see the module docstring).

    `last` is the list's record of its previous sweep ({"at": iso, "ledger_heads": {...}});
    `heads` the newest ledger row id of each balance now.
    """
    at = last.get("at")
    if not at or last.get("ledger_heads") != dict(heads):
        return True
    try:
        return now - datetime.fromisoformat(at) >= every
    except (TypeError, ValueError):
        return True  # a state written by something else: sweep rather than trust it


def settled_in(settlement: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], None]:
    """A `map_page` check for a settlement's sub-list: an item's `settlementAmount` is in the
    settlement's currency (Mollie converts a foreign payment); another currency means the item
    is not what this settlement paid out, and loading it would make its membership look fine."""
    amount = settlement.get("amount")
    currency = amount.get("currency") if isinstance(amount, Mapping) else None

    def check(record: Mapping[str, Any]) -> None:
        settled = record.get("settlementAmount")
        got = settled.get("currency") if isinstance(settled, Mapping) else None
        if currency and got and got != currency:
            raise ValueError(
                f"settlementAmount.currency: {got!r} in settlement {settlement.get('id')} "
                f"paid out in {currency}"
            )

    return check


@dataclass
class MappedPage:
    """One page of records mapped to rows of a table, and the records that could not be."""

    table: str
    rows: list[Row]
    quarantine: list[Row]

    def items(self) -> Iterator[Any]:
        """What a resource yields: the rows, then the quarantine rows marked for their table,
        each as an Arrow table (extract.arrow_rows), one yield per table."""
        if self.rows:
            yield to_arrow(self.table, self.rows)
        if self.quarantine:
            # Routed to the quarantine table variant every resource declares (`_resource`).
            yield dlt.mark.with_table_name(
                to_arrow(QUARANTINE_TABLE, self.quarantine), QUARANTINE_TABLE
            )


def map_page(
    table: str,
    records: Iterable[Mapping[str, Any]],
    progress: Progress,
    *,
    check: Callable[[Mapping[str, Any]], None] | None = None,
    **context: Any,
) -> MappedPage:
    """Map a page of records to rows of `table`; unmappable ones become quarantine rows.

    `check` (optional) raises ValueError for a record that is well-formed but does not belong
    where it was listed; it is quarantined with that reason like an unmappable one.
    """
    spec = TABLES[table]
    page = MappedPage(table, [], [])
    for record in records:
        try:
            if check is not None and isinstance(record, Mapping):
                check(record)
            page.rows.extend(spec.rows(record, **context))
        except ValueError as exc:
            reason = clip_reason(str(exc))
            log.warning("quarantined a %s record (%s): %s", table, object_id(record), reason)
            page.quarantine.append(quarantine_row(table, record, reason, **context))
    progress.page(table, len(page.rows), len(page.quarantine))
    return page


def _resource(
    name: str, fn: Callable[..., Iterator[Any]], parent: DltResource | None = None
) -> DltResource:
    """A resource (or, with `parent`, a transformer) writing raw table `name`, merged on its key,
    and the records it cannot map to the `quarantine` table."""
    spec = TABLES[name]
    if parent is not None:
        resource = dlt.transformer(
            coalesced(fn), data_from=parent, name=name, table_name=name, write_disposition=MERGE
        )
    else:
        resource = dlt.resource(coalesced(fn), name=name, table_name=name, write_disposition=MERGE)
    # dlt starts a table variant from a copy of the resource's hints, so the quarantine variant is
    # declared before the table's own columns: its non-null `id` must not leak into quarantine.
    resource.apply_hints(
        table_name=QUARANTINE_TABLE,
        write_disposition=MERGE,
        primary_key=["record_key"],
        columns=QUARANTINE_COLUMNS,
        create_table_variant=True,
    )
    resource.apply_hints(primary_key=list(spec.primary_key), columns=spec.columns())
    return resource


@dlt.source(name="mollie", max_table_nesting=0)
def mollie_source(
    settings: ClientSettings | None = None,
    lookback_days: int = DEFAULT_LOOKBACK_DAYS,
    report_days: int = DEFAULT_REPORT_DAYS,
    progress: Progress | None = None,
    client_factory: Callable[[ClientSettings], MollieClient] = MollieClient,
    reread: bool = False,
    sweep_hours: float = DEFAULT_SWEEP_HOURS,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> list[DltResource]:
    """All Mollie finance resources.

    Args:
        settings: how to reach Mollie; read from the environment at run time when omitted (so
            building the source, e.g. for Dagster definitions, needs no token).
        lookback_days: how far back a look-back sweep re-reads mutable objects.
        report_days: how many days of daily balance reports a first load reads.
        progress: receives row/page counts (the CLI prints them).
        client_factory: builds the HTTP client (tests inject counting clients).
        reread: ignore the incremental state and read every resource from the start; rows are
            merged as always, so nothing loaded before is dropped (a full refresh of a few
            tables, which must not touch the other tables or the shared quarantine).
        sweep_hours: sweep the mutable lists' look-back window when the last sweep is this
            old, even if no money moved (0: every run).
        clock: the wall clock, for the age of the last sweep (tests move it).
    """
    progress = progress or Progress()
    state: dict[str, Any] = {}  # the client and the short lists, built once per run
    # Built once under a lock: the settlement sub-list threads ask for them too.
    lock = threading.RLock()
    forgotten: set[str] = set()

    def shared(key: str, build: Callable[[], Any]) -> Any:
        with lock:
            if key not in state:
                state[key] = build()
            return state[key]

    def resource_state(resource: str, key: str, default: Any) -> Any:
        """`resource`'s incremental state under `key`; forgotten once per run on a re-read."""
        st = dlt.current.resource_state()
        if reread and resource not in forgotten:
            st.clear()
            forgotten.add(resource)
        return st.setdefault(key, default)

    def client() -> MollieClient:
        return shared("client", lambda: client_factory(settings or ClientSettings.from_env()))

    def listed(path: str, key: str) -> list[list[dict[str, Any]]]:
        """The pages of a short list (balances, profiles), read once per run: the table's own
        resource and the resources that walk each balance or profile all use them."""
        return shared(f"pages:{path}", lambda: list(client().iter_pages(path, key, prefetch=True)))

    def whole_list(table: str, path: str, key: str) -> Callable[[], Iterator[Any]]:
        def read() -> Iterator[Any]:
            for page in listed(path, key):
                yield from map_page(table, page, progress).items()

        return read

    def single(table: str, path: str) -> Callable[[], Iterator[Any]]:
        def read() -> Iterator[Any]:
            yield from map_page(table, [client().get(path)], progress).items()

        return read

    def profile_scopes(scoped: bool) -> list[tuple[str, dict[str, str]]]:
        """(state key, query params) per list call. Mollie requires `profileId` on `/payments`,
        `/refunds` and settlement payments for organization tokens (Mollie's API reference), so
        those lists are read once per profile; a profile API key must not send it."""
        if not scoped or client().settings.token_kind != "organization":
            return [("*", {})]
        ids = [p.get("id") for page in listed("/profiles", "profiles") for p in page]
        return [(pid, {"profileId": pid}) for pid in ids if isinstance(pid, str)]

    def ledger_heads() -> dict[str, Mapping[str, Any] | None]:
        """The newest ledger row of each balance, read once per run (one request a balance).

        Where each ledger walk ends, the last day of balance reports, and whether money moved
        since a mutable list's last sweep.
        """

        def read() -> dict[str, Mapping[str, Any] | None]:
            heads: dict[str, Mapping[str, Any] | None] = {}
            for bal_id, _ in balance_ids():
                first = client().get(f"/balances/{bal_id}/transactions", {"limit": 1})
                rows = (first.get("_embedded") or {}).get("balance_transactions") or []
                heads[bal_id] = rows[0] if rows and isinstance(rows[0], Mapping) else None
            return heads

        return shared("ledger_heads", read)

    def head_ids() -> dict[str, str | None]:
        return {b: (h or {}).get("id") for b, h in ledger_heads().items()}

    def mutable_list(
        table: str, path: str, key: str, *, per_profile: bool = False, whole_history: bool = False
    ) -> Callable[[], Iterator[Any]]:
        def read() -> Iterator[Any]:
            marks = resource_state(table, "newest_created_at", {})
            last_sweep = resource_state(table, "last_sweep", {})
            started, heads = clock(), head_ids()
            sweep = sweep_due(last_sweep, heads, started, timedelta(hours=sweep_hours))
            for scope, params in profile_scopes(per_profile):
                mark = marks.get(scope)
                newest = datetime.fromisoformat(mark) if mark else None
                if newest is None or (sweep and whole_history):
                    stop_before = None  # a first load, or a sweep of the whole history
                elif sweep:
                    stop_before = newest - timedelta(days=lookback_days)
                else:
                    stop_before = newest  # only what is new since the last run

                def reads_on(
                    items: list[dict[str, Any]], stop: datetime | None = stop_before
                ) -> bool:
                    # Newest first: the walk goes on past a page whose oldest item is not older
                    # than the stop (an unreadable createdAt: do not guess, fetch on demand).
                    try:
                        return stop is None or parse_timestamp(items[-1].get("createdAt")) >= stop
                    except (IndexError, ValueError):
                        return False

                for page in client().iter_pages(path, key, params, prefetch=reads_on):
                    mapped = map_page(table, page, progress)
                    yield from mapped.items()
                    # Only mapped rows count: a quarantined record's createdAt may be garbage.
                    created = [row["created_at"] for row in mapped.rows]
                    if created:
                        newest = max(newest, *created) if newest else max(created)
                    if stop_before is not None and created and min(created) < stop_before:
                        break
                if newest:
                    marks[scope] = newest.isoformat()
            if sweep:
                last_sweep.update(at=started.isoformat(), ledger_heads=heads)
            log.info(
                "%s: %s", table, "look-back sweep" if sweep else "new objects only (no sweep due)"
            )

        return read

    def balance_ids() -> Iterator[tuple[str, Mapping[str, Any]]]:
        # A balance without an id is quarantined by the `balances` resource; skip it here.
        for page in listed("/balances", "balances"):
            for balance in page:
                if isinstance(balance.get("id"), str):
                    yield balance["id"], balance

    def balance_transactions() -> Iterator[Any]:
        st = resource_state("balance_transactions", "last_id", {})
        heads = head_ids()
        for bal_id, _ in balance_ids():
            known, newest = st.get(bal_id), None
            if known is not None and heads.get(bal_id) == known:
                continue  # nothing new in this balance's ledger
            path = f"/balances/{bal_id}/transactions"

            # Read on past a page until it holds the newest row loaded last time.
            def reads_on(items: list[dict[str, Any]], known: str | None = known) -> bool:
                return known is None or all(r.get("id") != known for r in items)

            for page in client().iter_pages(path, "balance_transactions", prefetch=reads_on):
                if newest is None:
                    newest = page[0].get("id")
                ids = [r.get("id") for r in page]
                seen = known is not None and known in ids
                rows = page[: ids.index(known) + 1] if seen else page
                yield from map_page(
                    "balance_transactions", rows, progress, balance_id=bal_id
                ).items()
                if seen:
                    break
            if newest:
                st[bal_id] = newest

    def report_days_of(
        bal_id: str, balance: Mapping[str, Any], last_loaded: str | None
    ) -> list[date]:
        """The Amsterdam days to read a daily report for, oldest first.

        From the last day loaded (re-read: it may have been incomplete), or on a first load
        `report_days` back but not before the balance existed, up to the day of the newest
        ledger row. None when the ledger is empty or its newest row is unreadable (quarantined
        by `balance_transactions`).
        """
        head = ledger_heads().get(bal_id)
        try:
            last_day = parse_timestamp((head or {}).get("createdAt")).astimezone(AMS).date()
        except ValueError:
            return []
        if last_loaded:
            day = date.fromisoformat(last_loaded)
        else:
            day = last_day - timedelta(days=report_days - 1)
            try:
                day = max(day, parse_timestamp(balance.get("createdAt")).astimezone(AMS).date())
            except ValueError:
                pass  # the balance row itself is quarantined; read the whole window
        return [day + timedelta(days=n) for n in range((last_day - day).days + 1)]

    def balance_reports() -> Iterator[Any]:
        st = resource_state("balance_reports", "last_day", {})
        for bal_id, balance in balance_ids():
            days = report_days_of(bal_id, balance, st.get(bal_id))
            for day in days:
                report = client().get(
                    f"/balances/{bal_id}/report",
                    {
                        "from": day.isoformat(),
                        "until": (day + timedelta(days=1)).isoformat(),  # exclusive
                        "grouping": "status-balances",
                    },
                )
                yield from map_page("balance_reports", [report], progress).items()
            if days:
                st[bal_id] = days[-1].isoformat()

    def settlement_objects() -> Iterator[list[dict[str, Any]]]:
        yield from client().iter_pages("/settlements", "settlements", prefetch=True)

    def each_page(table: str) -> Callable[[list[dict[str, Any]]], Iterator[Any]]:
        """A transformer body mapping each page of its parent to rows of `table`."""

        def read(page: list[dict[str, Any]]) -> Iterator[Any]:
            yield from map_page(table, page, progress).items()

        return read

    def sublist(kind: str) -> Callable[[list[dict[str, Any]]], Iterator[Any]]:
        table = f"settlement_{kind}"

        def read(page: list[dict[str, Any]]) -> Iterator[Any]:
            done = resource_state(table, "final", [])
            read_as = resource_state(table, "open_read_as", {})  # open settlement -> fingerprint
            todo = [
                s
                for s in page
                if isinstance(s.get("id"), str)
                and s["id"] not in done
                and read_as.get(s["id"]) != fingerprint(s)
            ]

            scopes = profile_scopes(kind == "payments")

            def fetch(s: dict[str, Any]) -> tuple[dict[str, Any], list[MappedPage]]:
                path = f"/settlements/{s['id']}/{kind}"
                check = settled_in(s)
                pages = [
                    map_page(table, items, progress, check=check, settlement_id=s["id"])
                    for _, params in scopes
                    for items in client().iter_pages(path, kind, params, prefetch=True)
                ]
                return s, pages

            # Bounded concurrency: a few settlements at a time; each yields its pages whole.
            with ThreadPoolExecutor(max_workers=SUBLIST_WORKERS) as pool:
                for s, pages in bounded_map(pool, fetch, todo, SUBLIST_WORKERS):
                    for mapped in pages:
                        yield from mapped.items()
                    if s.get("status") in FINAL_SETTLEMENT_STATUSES:
                        done.append(s["id"])
                        read_as.pop(s["id"], None)
                    else:
                        read_as[s["id"]] = fingerprint(s)

        return read

    def invoice_objects() -> Iterator[list[dict[str, Any]]]:
        yield from client().iter_pages("/invoices", "invoices", prefetch=True)

    settlement_source = dlt.resource(settlement_objects, name="settlement_objects", selected=False)
    invoice_source = dlt.resource(invoice_objects, name="invoice_objects", selected=False)

    return [
        _resource("organizations", single("organizations", "/organizations/me")),
        _resource("profiles", whole_list("profiles", "/profiles", "profiles")),
        _resource("balances", whole_list("balances", "/balances", "balances")),
        _resource("balance_transactions", balance_transactions),
        _resource("balance_reports", balance_reports),
        settlement_source,
        _resource("settlements", each_page("settlements"), settlement_source),
        _resource("settlement_periods", each_page("settlement_periods"), settlement_source),
        *(_resource(f"settlement_{k}", sublist(k), settlement_source) for k in SUBLISTS),
        invoice_source,
        _resource("invoices", each_page("invoices"), invoice_source),
        _resource("invoice_lines", each_page("invoice_lines"), invoice_source),
        _resource("payments", mutable_list("payments", "/payments", "payments", per_profile=True)),
        _resource("refunds", mutable_list("refunds", "/refunds", "refunds", per_profile=True)),
        _resource("chargebacks", mutable_list("chargebacks", "/chargebacks", "chargebacks")),
        _resource("customers", mutable_list("customers", "/customers", "customers")),
        _resource(
            "subscriptions",
            mutable_list("subscriptions", "/subscriptions", "subscriptions", whole_history=True),
        ),
    ]
