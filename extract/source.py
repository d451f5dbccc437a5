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
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
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
    table: str, records: Iterable[Mapping[str, Any]], progress: Progress, **context: Any
) -> MappedPage:
    """Map a page of records to rows of `table`; unmappable ones become quarantine rows."""
    spec = TABLES[table]
    page = MappedPage([], [])
    for record in records:
        try:
            page.rows.extend(spec.rows(record, **context))
        except ValueError as exc:
            log.warning("quarantined a %s record (%s): %s", table, object_id(record), exc)
            page.quarantine.append(quarantine_row(table, record, str(exc), **context))
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
    state: dict[str, Any] = {}  # the client and the profile ids, built once per run
    forgotten: set[str] = set()

    def resource_state(resource: str, key: str, default: Any) -> Any:
        """`resource`'s incremental state under `key`; forgotten once per run on a re-read."""
        st = dlt.current.resource_state()
        if reread and resource not in forgotten:
            st.clear()
            forgotten.add(resource)
        return st.setdefault(key, default)

    def client() -> MollieClient:
        if "client" not in state:
            state["client"] = client_factory(settings or ClientSettings.from_env())
        return state["client"]

    def whole_list(table: str, path: str, key: str) -> Callable[[], Iterator[Any]]:
        def read() -> Iterator[Any]:
            for page in client().iter_pages(path, key):
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
        if "profiles" not in state:
            ids = [
                p.get("id") for page in client().iter_pages("/profiles", "profiles") for p in page
            ]
            state["profiles"] = [i for i in ids if isinstance(i, str)]
        return [(pid, {"profileId": pid}) for pid in state["profiles"]]

    def since_lookback(
        table: str, path: str, key: str, *, per_profile: bool = False
    ) -> Callable[[], Iterator[Any]]:
        def read() -> Iterator[Any]:
            marks = resource_state(table, "newest_created_at", {})
            for scope, params in profile_scopes(per_profile):
                mark = marks.get(scope)
                newest = datetime.fromisoformat(mark) if mark else None
                stop_before = newest - timedelta(days=lookback_days) if newest else None
                for page in client().iter_pages(path, key, params):
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
        for page in client().iter_pages("/balances", "balances"):
            for balance in page:
                if isinstance(balance.get("id"), str):
                    yield balance["id"], balance

    def balance_transactions() -> Iterator[Any]:
        st = resource_state("balance_transactions", "last_id", {})
        for bal_id, _ in balance_ids():
            known, newest = st.get(bal_id), None
            path = f"/balances/{bal_id}/transactions"
            for page in client().iter_pages(path, "balance_transactions"):
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
        yield from client().iter_pages("/settlements", "settlements")

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
                pages = [
                    map_page(table, items, progress, settlement_id=s["id"])
                    for _, params in scopes
                    for items in client().iter_pages(path, kind, params)
                ]
                return s, pages

            # Bounded concurrency: a few settlements at a time; each yields its pages whole.
            with ThreadPoolExecutor(max_workers=SUBLIST_WORKERS) as pool:
                for s, pages in pool.map(fetch, todo):
                    for mapped in pages:
                        yield from mapped.items()
                    if s.get("status") in FINAL_SETTLEMENT_STATUSES:
                        done.append(s["id"])

        return read

    def invoice_objects() -> Iterator[list[dict[str, Any]]]:
        yield from client().iter_pages("/invoices", "invoices")

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
        _resource(
            "payments", since_lookback("payments", "/payments", "payments", per_profile=True)
        ),
        _resource("refunds", since_lookback("refunds", "/refunds", "refunds", per_profile=True)),
        _resource("chargebacks", since_lookback("chargebacks", "/chargebacks", "chargebacks")),
        _resource("customers", since_lookback("customers", "/customers", "customers")),
        _resource("subscriptions", whole_list("subscriptions", "/subscriptions", "subscriptions")),
    ]
