"""The dlt source for Mollie finance data: one resource per raw table of DESIGN §3.

Incremental rules (DESIGN §6), with state kept by dlt (locally and in the destination, so it
survives a lost working folder):

- `balance_transactions` is an immutable ledger: walk each balance newest-first and stop at the
  newest id loaded last time (the `from` cursor is inclusive, so rows merge on `id`).
- `payments`, `refunds`, `chargebacks`, `customers` are mutable: walk newest-first until a page
  ends before (newest `createdAt` seen last time − look-back window), merge on `id`.
- `settlements`, `invoices`, `subscriptions`, `balances`, `profiles`, `organizations` are small or
  change anywhere in their history: read whole each run, merge on `id` (periods come with the
  settlement). A settlement's sub-lists are read until the settlement is final (`paidout` or
  `failed`), then never again.
- `balance_reports`: one `status-balances` report per balance and Amsterdam day, from the last
  day loaded (re-read, it may have been incomplete) up to the day of the newest ledger row; a
  first load goes `report_days` back, but not before the balance was created.

With an organization token Mollie requires `profileId` on `/payments`, `/refunds` and settlement
payments, so those are read once per profile (state per profile). Records that cannot be mapped
go to `quarantine` with the reason and the raw JSON.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import dlt
from dlt.sources import DltResource

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
DEFAULT_REPORT_DAYS = 120
SUBLIST_WORKERS = 4  # bounded concurrency for settlement sub-lists

# Every raw table of DESIGN §3 is one resource, in the order of the table contract.
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

    rows: list[Row]
    quarantine: list[Row]

    def items(self) -> Iterator[Any]:
        """What a resource yields: the rows, then the quarantine rows marked for their table.

        dlt routes a whole yielded list to one table, so the two go out as separate yields.
        """
        if self.rows:
            yield self.rows
        if self.quarantine:
            # Routed to the quarantine table variant every resource declares (`_resource`).
            yield dlt.mark.with_table_name(self.quarantine, QUARANTINE_TABLE)


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
    page = MappedPage([], [])
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
            fn, data_from=parent, name=name, table_name=name, write_disposition=MERGE
        )
    else:
        resource = dlt.resource(fn, name=name, table_name=name, write_disposition=MERGE)
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
) -> list[DltResource]:
    """All Mollie finance resources.

    Args:
        settings: how to reach Mollie; read from the environment at run time when omitted (so
            building the source, e.g. for Dagster definitions, needs no token).
        lookback_days: how far back mutable objects are re-read each run.
        report_days: how many days of daily balance reports a first load reads.
        progress: receives row/page counts (the CLI prints them).
        client_factory: builds the HTTP client (tests inject counting clients).
        reread: ignore the incremental state and read every resource from the start; rows are
            merged as always, so nothing loaded before is dropped (a full refresh of a few
            tables, which must not touch the other tables or the shared quarantine).
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

    def whole_list(
        table: str, path: str, key: str, *, short: bool = False
    ) -> Callable[[], Iterator[Any]]:
        def read() -> Iterator[Any]:
            pages = listed(path, key) if short else client().iter_pages(path, key, prefetch=True)
            for page in pages:
                yield from map_page(table, page, progress).items()

        return read

    def single(table: str, path: str) -> Callable[[], Iterator[Any]]:
        def read() -> Iterator[Any]:
            yield from map_page(table, [client().get(path)], progress).items()

        return read

    def profile_scopes(scoped: bool) -> list[tuple[str, dict[str, str]]]:
        """(state key, query params) per list call. Mollie requires `profileId` on `/payments`,
        `/refunds` and settlement payments for organization tokens (mollie-api.md §3), so
        those lists are read once per profile; a profile API key must not send it."""
        if not scoped or client().settings.token_kind != "organization":
            return [("*", {})]
        ids = [p.get("id") for page in listed("/profiles", "profiles") for p in page]
        return [(pid, {"profileId": pid}) for pid in ids if isinstance(pid, str)]

    def since_lookback(
        table: str, path: str, key: str, *, per_profile: bool = False
    ) -> Callable[[], Iterator[Any]]:
        def read() -> Iterator[Any]:
            marks = resource_state(table, "newest_created_at", {})
            for scope, params in profile_scopes(per_profile):
                mark = marks.get(scope)
                newest = datetime.fromisoformat(mark) if mark else None
                stop_before = newest - timedelta(days=lookback_days) if newest else None

                def reads_on(
                    items: list[dict[str, Any]], stop: datetime | None = stop_before
                ) -> bool:
                    # Newest first: the walk goes on past a page whose oldest item is in the
                    # window (an unreadable createdAt: do not guess, fetch on demand).
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

        return read

    def balance_ids() -> Iterator[tuple[str, Mapping[str, Any]]]:
        # A balance without an id is quarantined by the `balances` resource; skip it here.
        for page in listed("/balances", "balances"):
            for balance in page:
                if isinstance(balance.get("id"), str):
                    yield balance["id"], balance

    def balance_transactions() -> Iterator[Any]:
        st = resource_state("balance_transactions", "last_id", {})
        for bal_id, _ in balance_ids():
            known, newest = st.get(bal_id), None
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
        first = client().get(f"/balances/{bal_id}/transactions", {"limit": 1})
        newest = (first.get("_embedded") or {}).get("balance_transactions") or []
        try:
            last_day = parse_timestamp(newest[0].get("createdAt")).astimezone(AMS).date()
        except (IndexError, ValueError):
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
            todo = [s for s in page if isinstance(s.get("id"), str) and s["id"] not in done]

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

        return read

    def invoice_objects() -> Iterator[list[dict[str, Any]]]:
        yield from client().iter_pages("/invoices", "invoices", prefetch=True)

    settlement_source = dlt.resource(settlement_objects, name="settlement_objects", selected=False)
    invoice_source = dlt.resource(invoice_objects, name="invoice_objects", selected=False)

    return [
        _resource("organizations", single("organizations", "/organizations/me")),
        _resource("profiles", whole_list("profiles", "/profiles", "profiles", short=True)),
        _resource("balances", whole_list("balances", "/balances", "balances", short=True)),
        _resource("balance_transactions", balance_transactions),
        _resource("balance_reports", balance_reports),
        settlement_source,
        _resource("settlements", each_page("settlements"), settlement_source),
        _resource("settlement_periods", each_page("settlement_periods"), settlement_source),
        *(_resource(f"settlement_{k}", sublist(k), settlement_source) for k in SUBLISTS),
        invoice_source,
        _resource("invoices", each_page("invoices"), invoice_source),
        _resource("invoice_lines", each_page("invoice_lines"), invoice_source),
        _resource(
            "payments", since_lookback("payments", "/payments", "payments", per_profile=True)
        ),
        _resource("refunds", since_lookback("refunds", "/refunds", "refunds", per_profile=True)),
        _resource("chargebacks", since_lookback("chargebacks", "/chargebacks", "chargebacks")),
        _resource("customers", since_lookback("customers", "/customers", "customers")),
        _resource("subscriptions", whole_list("subscriptions", "/subscriptions", "subscriptions")),
    ]
