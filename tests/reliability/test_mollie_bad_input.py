"""Bad input from Mollie: every malformed answer either loads correctly, lands in
`mollie.quarantine` with a reason, or stops the extract with a clear error. Never silent loss.

The sandbox only serves valid data, so each scenario puts a proxy in front of it: the client's
transport forwards every request over real HTTP and lets the scenario rewrite the answer (as
tests/integration/extract/test_quarantine.py does for two bad payments; the cases here are the
others). "Lost" below counts records that are neither loaded nor quarantined.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import httpx
import pytest
import warehouse_builds
from dlt.pipeline.exceptions import PipelineStepFailed
from reliability_support import (
    differences,
    duplicate_keys,
    fingerprint,
    settings_for,
    world,
)

from extract.client import MollieClient
from extract.pipeline import mollie_error, run_extract
from extract.records import RAW_LIMIT, REASON_LIMIT
from extract.settings import ClientSettings
from sandbox.bank import write_camt053
from sandbox.server import SandboxServer

Rewrite = Callable[[httpx.Request, httpx.Response], bytes | None]


@pytest.fixture(scope="module")
def sandbox():
    with SandboxServer(world()) as server:
        yield server


@dataclass
class Proxy:
    """Forwards to the sandbox; `rewrite(request, answer)` may return a new body."""

    rewrite: Rewrite
    limit: int | None = None  # rewrite the page size of list requests (more pages)
    touched: int = 0
    _local: threading.local = field(default_factory=threading.local)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def client_factory(self, settings: ClientSettings) -> MollieClient:
        return MollieClient(settings, transport=httpx.MockTransport(self._handle), sleep=_no_wait)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        # One upstream client per thread: settlement sub-lists are fetched concurrently.
        upstream = getattr(self._local, "client", None) or httpx.Client(timeout=60)
        self._local.client = upstream
        url = request.url
        if self.limit and "limit" in url.params and "from" not in url.params:
            url = url.copy_set_param("limit", str(self.limit))
        answer = upstream.send(httpx.Request(request.method, url, headers=request.headers))
        body = self.rewrite(request, answer)
        headers = {k: v for k, v in answer.headers.items() if k.lower() not in ("content-length",)}
        if body is not None:
            with self._lock:
                self.touched += 1
        return httpx.Response(
            answer.status_code, headers=headers, content=answer.content if body is None else body
        )


def _no_wait(seconds: float) -> None:
    """Retries are decided, not waited for: a recorded-nothing sleep keeps the suite fast."""


def _edit_items(path: str, embedded: str, edit: Callable[[list[dict]], bool]) -> Rewrite:
    """Rewrite list pages of `path` (a regex on the URL path): `edit(items)` changes them in place
    and says whether it did."""

    def rewrite(request: httpx.Request, answer: httpx.Response) -> bytes | None:
        if answer.status_code != 200 or not re.fullmatch(path, request.url.path):
            return None
        page = answer.json()
        if not edit(page["_embedded"][embedded]):
            return None
        return json.dumps(page).encode()

    return rewrite


def _extract(db: Path, sandbox: SandboxServer, proxy: Proxy, resources: list[str] | None = None):
    return run_extract(
        db, settings=settings_for(sandbox), client_factory=proxy.client_factory, resources=resources
    )


def _raw(fp: dict, tables: list[str]) -> dict:
    return {f"mollie.{t}": fp.get(f"mollie.{t}") for t in tables}


def _quarantine(db: Path) -> list[tuple[str, str | None, str, str | None]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            "select table_name, object_id, reason, raw from mollie.quarantine order by all"
        ).fetchall()
    finally:
        con.close()


# -- stops with a clear error ---------------------------------------------------------------


def test_html_page_with_200_stops_with_a_clear_error(tmp_path, sandbox, measured) -> None:
    def html(request: httpx.Request, answer: httpx.Response) -> bytes | None:
        if request.url.path.endswith("/v2/balances"):
            return b"<!DOCTYPE html><html><body><h1>Down for maintenance</h1></body></html>"
        return None

    proxy = Proxy(html)
    with pytest.raises(PipelineStepFailed) as failed:
        _extract(tmp_path / "w.duckdb", sandbox, proxy, ["balances"])
    message = str(mollie_error(failed.value))
    assert "an HTML page (HTTP 200) instead of JSON" in message
    assert f"MOLLIE_API_BASE_URL (now {sandbox.base_url})" in message
    measured.record(
        "bad input from Mollie",
        "HTML error page with HTTP 200",
        tried=proxy.touched,
        lost=0,
        duplicated=0,
        note="stops: “" + message.split(". ")[0] + "”",
    )


def test_invalid_json_is_retried_then_stops_with_a_clear_error(tmp_path, sandbox, measured) -> None:
    def broken(request: httpx.Request, answer: httpx.Response) -> bytes | None:
        if request.url.path.endswith("/v2/invoices"):
            return b"{'_embedded': {'invoices': [}"  # Python repr, not JSON
        return None

    proxy = Proxy(broken)
    with pytest.raises(PipelineStepFailed) as failed:
        _extract(tmp_path / "w.duckdb", sandbox, proxy, ["invoices"])
    message = str(mollie_error(failed.value))
    # Retried as a possibly cut-off body until the breaker stops the run; the message says what
    # was wrong with the answer and where.
    assert "incomplete JSON" in message and "GET /invoices?limit=250" in message
    assert 5 <= proxy.touched <= 6
    measured.record(
        "bad input from Mollie",
        "invalid JSON",
        tried=proxy.touched,
        lost=0,
        duplicated=0,
        note="retried as a possibly cut-off body, then stops: “" + message.split(". ")[0] + "”",
    )


# -- loads correctly ------------------------------------------------------------------------


def test_unknown_fields_and_negative_zero_load_exactly(
    tmp_path, sandbox, clean_fingerprint, measured
) -> None:
    def additions(request: httpx.Request, answer: httpx.Response) -> bytes | None:
        if answer.status_code != 200:
            return None
        text = answer.content.decode()
        # Negative zero wherever Mollie writes a zero amount.
        text = re.sub(r'"value":"0\.(0+)"', r'"value":"-0.\1"', text)
        page = json.loads(text)
        page["_futureTopLevel"] = {"cursor": None}
        for items in (page.get("_embedded") or {}).values():
            for item in items if isinstance(items, list) else []:
                item["futureField"] = {"nested": [1, "two", None], "amount": {"value": "x"}}
        if "_embedded" not in page:
            page["futureField"] = True
        return json.dumps(page).encode()

    db = tmp_path / "w.duckdb"
    proxy = Proxy(additions)
    result = _extract(db, sandbox, proxy)
    got = fingerprint(db)
    raw = list(result.rows)
    assert differences(_raw(got, raw), _raw(clean_fingerprint, raw)) == {}
    assert result.quarantined == {} and duplicate_keys(db) == {}
    con = duckdb.connect(str(db), read_only=True)
    try:
        negative_zero = con.execute(
            "select count(*) from mollie.payments where amount_refunded = 0"
        ).fetchone()[0]
    finally:
        con.close()
    assert negative_zero > 0  # "-0.00" loaded as zero, not quarantined
    measured.record(
        "bad input from Mollie",
        'unknown fields everywhere; every zero amount as "-0.00"',
        tried=proxy.touched,
        lost=0,
        duplicated=0,
        note="loads: raw tables equal the clean load (rows and sums)",
    )


def test_unknown_enum_values_load_as_sent(tmp_path, sandbox, measured) -> None:
    def novel(items: list[dict]) -> bool:
        for item in items:
            item["status"] = "awaiting-future-status"
            item["method"] = "futurepay"
        return True

    db = tmp_path / "w.duckdb"
    proxy = Proxy(_edit_items(r"/v2/payments", "payments", novel))
    result = _extract(db, sandbox, proxy, ["payments"])
    con = duckdb.connect(str(db), read_only=True)
    try:
        kept = con.execute(
            "select count(*) from mollie.payments "
            "where status = 'awaiting-future-status' and method = 'futurepay'"
        ).fetchone()[0]
    finally:
        con.close()
    assert result.quarantined == {}
    assert kept == result.rows["payments"] == len(sandbox.world.payments)
    measured.record(
        "bad input from Mollie",
        "unknown enum values (status, method)",
        tried=kept,
        lost=len(sandbox.world.payments) - kept,
        duplicated=0,
        note="loads as sent (raw keeps Mollie's text; an unknown ledger type is a finding)",
    )


def test_ids_repeated_across_pages_load_once(
    tmp_path, sandbox, clean_fingerprint, measured
) -> None:
    seen: list[dict] = []
    lock = threading.Lock()

    def repeat(items: list[dict]) -> bool:
        with lock:
            first = not seen
            if not first:
                items.append(dict(seen[-1]))  # the previous page's last payment, again
            seen.extend(dict(i) for i in items)
        return not first

    db = tmp_path / "w.duckdb"
    proxy = Proxy(_edit_items(r"/v2/payments", "payments", repeat), limit=40)
    _extract(db, sandbox, proxy, ["payments"])
    got = fingerprint(db)
    assert proxy.touched >= 3  # several pages, each repeating one id
    assert differences(_raw(got, ["payments"]), _raw(clean_fingerprint, ["payments"])) == {}
    assert duplicate_keys(db) == {}
    measured.record(
        "bad input from Mollie",
        "the same id on two pages",
        tried=proxy.touched,
        lost=0,
        duplicated=0,
        note="loads once (merge on id); rows and sums equal the clean load",
    )


def test_huge_pages_load_and_a_huge_bad_record_is_quarantined_cut(
    tmp_path, sandbox, measured, caplog
) -> None:
    def pad(items: list[dict]) -> bool:
        for item in items:
            item["futurePadding"] = "x" * 20_000  # ~4 MB per page of 200
        items[0]["amount"] = {"currency": "EUR", "value": "abc" + "9" * 300_000}
        return True

    db = tmp_path / "w.duckdb"
    proxy = Proxy(_edit_items(r"/v2/payments", "payments", pad))
    with caplog.at_level("WARNING", logger="mollie_ledger.extract"):
        result = _extract(db, sandbox, proxy, ["payments"])
    bad = proxy.touched  # one per page
    assert result.quarantined == {"payments": bad}
    assert result.rows["payments"] == len(sandbox.world.payments) - bad
    rows = _quarantine(db)
    assert len(rows) == bad
    for table, object_id, reason, raw in rows:
        assert table == "payments" and object_id.startswith("tr_")
        assert reason.startswith("amount.value: expected a decimal string")
        assert len(reason) <= REASON_LIMIT  # the reason quotes the value, cut
        assert len(raw) == RAW_LIMIT  # the raw record is kept, cut at the limit
    # Nor does the log line carry 300 kB.
    assert max(len(r.getMessage()) for r in caplog.records) < REASON_LIMIT + 200
    measured.record(
        "bad input from Mollie",
        "huge pages (~4 MB), a 300 kB bad record on each",
        tried=result.rows["payments"] + bad,
        lost=len(sandbox.world.payments) - result.rows["payments"] - len(rows),
        duplicated=0,
        note=f"loads; each bad record quarantined with its reason (cut to {REASON_LIMIT} "
        f"chars, as is its log line), raw JSON cut at {RAW_LIMIT}",
    )


# -- quarantined with a reason --------------------------------------------------------------


def test_bad_amounts_and_missing_ids_in_other_tables_are_quarantined(
    tmp_path, sandbox, measured
) -> None:
    def first(change: Callable[[dict], None]) -> Callable[[list[dict]], bool]:
        done = threading.Event()

        def edit(items: list[dict]) -> bool:
            if done.is_set() or not items:
                return False
            change(items[0])
            done.set()
            return True

        return edit

    edits = {
        r"/v2/balances/[^/]+/transactions": (
            "balance_transactions",
            first(lambda i: i["resultAmount"].update(value="1,00")),
        ),
        r"/v2/refunds": ("refunds", first(lambda i: i["amount"].update(value="abc"))),
        r"/v2/customers": ("customers", first(lambda i: i.pop("id"))),
    }
    rewrites = [_edit_items(path, key, edit) for path, (key, edit) in edits.items()]

    def rewrite(request: httpx.Request, answer: httpx.Response) -> bytes | None:
        if request.url.params.get("limit") == "1":
            return None  # the ledger's newest-row probe is never loaded; the walk's page is
        for one in rewrites:
            if (body := one(request, answer)) is not None:
                return body
        return None

    db = tmp_path / "w.duckdb"
    proxy = Proxy(rewrite)
    tables = ["balance_transactions", "refunds", "customers"]
    result = _extract(db, sandbox, proxy, tables)
    w = sandbox.world
    assert result.quarantined == dict.fromkeys(tables, 1)
    reasons = {table: reason for table, _, reason, _ in _quarantine(db)}
    assert reasons["balance_transactions"].startswith("resultAmount.value:")
    assert "'1,00'" in reasons["balance_transactions"]
    assert reasons["refunds"].startswith("amount.value:") and "'abc'" in reasons["refunds"]
    assert reasons["customers"] == "id: required field is missing"
    expected = {
        "balance_transactions": len(w.transactions),
        "refunds": len(w.refunds),
        "customers": len(w.customers),
    }
    lost = sum(expected[t] - result.rows[t] - result.quarantined[t] for t in tables)
    assert lost == 0
    measured.record(
        "bad input from Mollie",
        'amounts "1,00" and "abc", a missing id (ledger, refunds, customers)',
        tried=proxy.touched,
        lost=lost,
        duplicated=0,
        note="each bad record quarantined with its reason; the rest loads",
    )


def test_wrong_currency_on_a_settlement_sub_list_is_quarantined_and_flagged(
    tmp_path, sandbox, measured
) -> None:
    eur = next(s for s in sandbox.world.settlements if s.currency == "EUR" and s.payment_ids)
    wrong = {"id": None}

    def gbp(items: list[dict]) -> bool:
        if wrong["id"] is not None or not items:  # listed per profile: a page may be empty
            return False
        items[0]["settlementAmount"]["currency"] = "GBP"
        wrong["id"] = items[0]["id"]
        return True

    db = tmp_path / "w.duckdb"
    proxy = Proxy(_edit_items(rf"/v2/settlements/{eur.id}/payments", "payments", gbp))
    result = _extract(db, sandbox, proxy)
    write_camt053(sandbox.world, tmp_path / "bank")
    warehouse_builds.rebuild(db, bank=tmp_path / "bank")
    assert result.quarantined == {"settlement_payments": 1}
    (row,) = _quarantine(db)
    assert row[1] == wrong["id"]
    assert row[2] == f"settlementAmount.currency: 'GBP' in settlement {eur.id} paid out in EUR"
    con = duckdb.connect(str(db), read_only=True)
    try:
        status = con.execute(
            "select status from marts.settlement_reconciliation where settlement_id = ?", [eur.id]
        ).fetchone()[0]
        findings = con.execute(
            "select check_name, object_id from marts.reconciliation_exceptions"
        ).fetchall()
        exported = con.execute(
            "select count(*) from marts.journal_entries where source_id = ?", [eur.id]
        ).fetchone()[0]
    finally:
        con.close()
    assert status == "mismatch"  # not booked while one of its payments is unaccounted for
    assert ("settlement_membership", wrong["id"]) in findings
    assert exported == 0
    measured.record(
        "bad input from Mollie",
        "wrong currency on a settlement's payments list",
        tried=1,
        lost=0,
        duplicated=0,
        note="quarantined with reason; the settlement is a mismatch (membership finding), "
        "its journal entry held back",
    )
