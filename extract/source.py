"""The dlt source for Mollie finance data: one resource per raw table of DESIGN §3.

Incremental rules (DESIGN §6), with state kept by dlt (locally and in the destination, so it
survives a lost working folder):

- `balance_transactions` is an immutable ledger: walk each balance newest-first and stop at the
  newest id loaded last time (the `from` cursor is inclusive, so rows merge on `id`).
- `payments`, `refunds`, `chargebacks`, `customers` are mutable: walk newest-first until a page
  ends before (newest `createdAt` seen last time − look-back window), merge on `id`.
- `settlements`, `invoices`, `subscriptions`, `balances`, `profiles`, `organizations` are small or
  change anywhere in their history: read whole each run, merge on `id`. A settlement's sub-lists
  and periods are read until the settlement is final (`paidout` or `failed`), then never again.
- `balance_reports`: one `status-balances` report per balance and Amsterdam day, from the last
  day loaded (re-read, it may have been incomplete) up to the day of the newest ledger row.

Records that cannot be mapped go to `quarantine` with the reason and the raw JSON.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import dlt
from dlt.sources import DltResource

from extract.client import MollieClient
from extract.parse import parse_timestamp
from extract.records import QUARANTINE_COLUMNS, TABLES, object_id
from extract.settings import ClientSettings

log = logging.getLogger("mollie_ledger.extract")
AMS = ZoneInfo("Europe/Amsterdam")
FINAL_SETTLEMENT_STATUSES = {"paidout", "failed"}
SUBLISTS = ("payments", "refunds", "chargebacks", "captures")
DEFAULT_LOOKBACK_DAYS = 60
DEFAULT_REPORT_DAYS = 120
SUBLIST_WORKERS = 4  # bounded concurrency for settlement sub-lists

ALL_RESOURCES = (
    "organizations",
    "profiles",
    "balances",
    "balance_transactions",
    "balance_reports",
    "settlements",
    "settlement_periods",
    "settlement_payments",
    "settlement_refunds",
    "settlement_chargebacks",
    "settlement_captures",
    "invoices",
    "invoice_lines",
    "payments",
    "refunds",
    "chargebacks",
    "customers",
    "subscriptions",
)


class Progress:
    """Counts rows and pages per table and logs a line every few pages (long loads)."""

    def __init__(self, every_pages: int = 20) -> None:
        self.rows: dict[str, int] = {}
        self.pages: dict[str, int] = {}
        self.quarantined: dict[str, int] = {}
        self.every = every_pages

    def page(self, table: str, n_rows: int) -> None:
        self.rows[table] = self.rows.get(table, 0) + n_rows
        self.pages[table] = self.pages.get(table, 0) + 1
        if self.pages[table] % self.every == 0:
            log.info("%s: %d rows from %d pages so far", table, self.rows[table], self.pages[table])


def _quarantine_row(table: str, record: object, reason: str) -> Any:
    row = {
        "table_name": table,
        "object_id": object_id(record),
        "reason": reason,
        "raw": json.dumps(record, default=str, ensure_ascii=False)[:100_000],
        "quarantined_at": datetime.now(UTC),
    }
    return dlt.mark.with_hints(
        row, dlt.mark.make_hints(table_name="quarantine", columns=QUARANTINE_COLUMNS)
    )


def map_page(
    table: str, records: Iterable[Mapping[str, Any]], progress: Progress, **context: Any
) -> list[Any]:
    """Map a page of records to rows of `table`; unmappable ones become quarantine rows."""
    spec = TABLES[table]
    out: list[Any] = []
    good = 0
    for record in records:
        try:
            rows = spec.rows(record, **context)
        except ValueError as exc:
            progress.quarantined[table] = progress.quarantined.get(table, 0) + 1
            log.warning("quarantined a %s record (%s): %s", table, object_id(record), exc)
            out.append(_quarantine_row(table, record, str(exc)))
            continue
        good += len(rows)
        out.extend(rows)
    progress.page(table, good)
    return out


def _resource(
    name: str, fn: Callable[..., Iterator[Any]], parent: DltResource | None = None
) -> DltResource:
    """A resource (or, with `parent`, a transformer) writing raw table `name`, merged on its key."""
    spec = TABLES[name]
    hints: dict[str, Any] = {
        "name": name,
        "table_name": name,
        "write_disposition": {"disposition": "merge", "strategy": "delete-insert"},
        "primary_key": list(spec.primary_key),
        "columns": spec.columns(),
    }
    if parent is not None:
        return dlt.transformer(fn, data_from=parent, **hints)
    return dlt.resource(fn, **hints)


@dlt.source(name="mollie", max_table_nesting=0)
def mollie_source(
    settings: ClientSettings | None = None,
    lookback_days: int = DEFAULT_LOOKBACK_DAYS,
    report_days: int = DEFAULT_REPORT_DAYS,
    progress: Progress | None = None,
    client_factory: Callable[[ClientSettings], MollieClient] = MollieClient,
) -> list[DltResource]:
    """All Mollie finance resources.

    Args:
        settings: how to reach Mollie; read from the environment at run time when omitted (so
            building the source, e.g. for Dagster definitions, needs no token).
        lookback_days: how far back mutable objects are re-read each run.
        report_days: how many days of daily balance reports a first load reads.
        progress: receives row/page counts (the CLI prints them).
        client_factory: builds the HTTP client (tests inject counting clients).
    """
    progress = progress or Progress()
    state: dict[str, MollieClient] = {}

    def client() -> MollieClient:
        if "client" not in state:
            state["client"] = client_factory(settings or ClientSettings.from_env())
        return state["client"]

    def whole_list(table: str, path: str, key: str) -> Callable[[], Iterator[list[Any]]]:
        def read() -> Iterator[list[Any]]:
            for page in client().iter_pages(path, key):
                yield map_page(table, page, progress)

        return read

    def single(table: str, path: str) -> Callable[[], Iterator[list[Any]]]:
        def read() -> Iterator[list[Any]]:
            yield map_page(table, [client().get(path)], progress)

        return read

    def since_lookback(table: str, path: str, key: str) -> Callable[[], Iterator[list[Any]]]:
        def read() -> Iterator[list[Any]]:
            st = dlt.current.resource_state()
            mark = st.get("newest_created_at")
            stop_before = (
                datetime.fromisoformat(mark) - timedelta(days=lookback_days) if mark else None
            )
            newest = mark
            for page in client().iter_pages(path, key):
                rows = map_page(table, page, progress)
                yield rows
                created = [parse_timestamp(r["createdAt"]) for r in page if r.get("createdAt")]
                if created:
                    top = max(created).isoformat()
                    newest = top if newest is None or top > newest else newest
                if stop_before is not None and created and min(created) < stop_before:
                    break
            if newest:
                st["newest_created_at"] = newest

        return read

    def balance_transactions() -> Iterator[list[Any]]:
        st = dlt.current.resource_state().setdefault("last_id", {})
        for balance_page in client().iter_pages("/balances", "balances"):
            for balance in balance_page:
                bal_id = balance["id"]
                known, newest = st.get(bal_id), None
                for page in client().iter_pages(
                    f"/balances/{bal_id}/transactions", "balance_transactions"
                ):
                    if newest is None and page:
                        newest = page[0].get("id")
                    ids = [r.get("id") for r in page]
                    if known in ids:
                        yield map_page(
                            "balance_transactions",
                            page[: ids.index(known) + 1],
                            progress,
                            balance_id=bal_id,
                        )
                        break
                    yield map_page("balance_transactions", page, progress, balance_id=bal_id)
                if newest:
                    st[bal_id] = newest

    def balance_reports() -> Iterator[list[Any]]:
        st = dlt.current.resource_state().setdefault("last_day", {})
        for balance_page in client().iter_pages("/balances", "balances"):
            for balance in balance_page:
                bal_id = balance["id"]
                first = client().get(f"/balances/{bal_id}/transactions", {"limit": 1})
                newest = first.get("_embedded", {}).get("balance_transactions") or []
                if not newest:
                    continue
                last_day = parse_timestamp(newest[0]["createdAt"]).astimezone(AMS).date()
                start = (
                    date.fromisoformat(st[bal_id])
                    if bal_id in st
                    else last_day - timedelta(days=report_days - 1)
                )
                day = start
                while day <= last_day:
                    report = client().get(
                        f"/balances/{bal_id}/report",
                        {
                            "from": day.isoformat(),
                            "until": (day + timedelta(days=1)).isoformat(),
                            "grouping": "status-balances",
                        },
                    )
                    yield map_page("balance_reports", [report], progress)
                    day += timedelta(days=1)
                st[bal_id] = last_day.isoformat()

    def settlement_objects() -> Iterator[list[dict[str, Any]]]:
        yield from client().iter_pages("/settlements", "settlements")

    def settlements(page: list[dict[str, Any]]) -> Iterator[list[Any]]:
        yield map_page("settlements", page, progress)

    def settlement_periods(page: list[dict[str, Any]]) -> Iterator[list[Any]]:
        yield map_page("settlement_periods", page, progress)

    def sublist(kind: str) -> Callable[[list[dict[str, Any]]], Iterator[list[Any]]]:
        table = f"settlement_{kind}"

        def read(page: list[dict[str, Any]]) -> Iterator[list[Any]]:
            done = dlt.current.resource_state().setdefault("final", [])
            todo = [s for s in page if s.get("id") and s["id"] not in done]

            def fetch(s: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
                rows: list[Any] = []
                for items in client().iter_pages(f"/settlements/{s['id']}/{kind}", kind):
                    rows.extend(map_page(table, items, progress, settlement_id=s["id"]))
                return s, rows

            with ThreadPoolExecutor(max_workers=SUBLIST_WORKERS) as pool:
                for s, rows in pool.map(fetch, todo):
                    yield rows
                    if s.get("status") in FINAL_SETTLEMENT_STATUSES:
                        done.append(s["id"])

        return read

    def invoice_objects() -> Iterator[list[dict[str, Any]]]:
        yield from client().iter_pages("/invoices", "invoices")

    def invoices(page: list[dict[str, Any]]) -> Iterator[list[Any]]:
        yield map_page("invoices", page, progress)

    def invoice_lines(page: list[dict[str, Any]]) -> Iterator[list[Any]]:
        yield map_page("invoice_lines", page, progress)

    settlement_source = dlt.resource(settlement_objects, name="settlement_objects", selected=False)
    invoice_source = dlt.resource(invoice_objects, name="invoice_objects", selected=False)

    return [
        _resource("organizations", single("organizations", "/organizations/me")),
        _resource("profiles", whole_list("profiles", "/profiles", "profiles")),
        _resource("balances", whole_list("balances", "/balances", "balances")),
        _resource("balance_transactions", balance_transactions),
        _resource("balance_reports", balance_reports),
        settlement_source,
        _resource("settlements", settlements, settlement_source),
        _resource("settlement_periods", settlement_periods, settlement_source),
        *(_resource(f"settlement_{k}", sublist(k), settlement_source) for k in SUBLISTS),
        invoice_source,
        _resource("invoices", invoices, invoice_source),
        _resource("invoice_lines", invoice_lines, invoice_source),
        _resource("payments", since_lookback("payments", "/payments", "payments")),
        _resource("refunds", since_lookback("refunds", "/refunds", "refunds")),
        _resource("chargebacks", since_lookback("chargebacks", "/chargebacks", "chargebacks")),
        _resource("customers", since_lookback("customers", "/customers", "customers")),
        _resource("subscriptions", whole_list("subscriptions", "/subscriptions", "subscriptions")),
    ]
