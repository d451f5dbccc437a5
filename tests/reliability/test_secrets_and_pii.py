"""Secrets and privacy (docs/design.md, Security and privacy).

Secrets: the session's deployment history (deployment_history.py) ran every stage, killed and
whole, with a recognisable token and PII key; neither may appear in anything it left: its
output, Dagster's storage, the DuckDB file (its bytes and its text columns), dlt's folder,
exports, the report, Data Docs, metrics, or what Frappe received.

Privacy: no customer's name, email, IBAN or card holder in clear in the marts, staging, exports,
report, Data Docs, metrics or Dagster's storage (they are pseudonymised past raw). And
`mollie-ledger erase-customer` removes one customer's data from everywhere, raw included, keeps
it out when Mollie serves it again, and leaves the books exactly as they were.
"""

from __future__ import annotations

import gzip
import json
import shutil
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import duckdb
import httpx
import pytest
from click.testing import CliRunner
from deployment_history import CANARY_PII_KEY, CANARY_TOKEN
from reliability_support import differences, fingerprint, settings_for, world

from cli.main import main
from extract.client import MollieClient
from extract.erasure import PII_DETAIL_KEYS
from extract.pipeline import run_extract
from extract.settings import ClientSettings
from sandbox import render
from sandbox.generate import World, build_world
from sandbox.server import SandboxServer

CANARY = b"LEAKCANARY"  # in both the token and the PII key
assert CANARY.decode() in CANARY_TOKEN and CANARY.decode() in CANARY_PII_KEY
# Where a run writes derived data (not the raw warehouse, not the bank drop folder it reads).
DERIVED = ("exports", "report", "quality-docs", "metrics", "dagster_home")


def files(root: Path) -> Iterator[tuple[Path, bytes]]:
    """Every file under `root` with its bytes (gzip members decompressed)."""
    for path in sorted(root.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            if path.suffix == ".gz":
                data = gzip.decompress(data)
            yield path, data


def text_values(db: Path, schemas: Iterable[str] | None = None) -> Iterator[tuple[str, str]]:
    """("schema.table.column", value) for every distinct text value of the warehouse."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        columns = con.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where data_type in ('VARCHAR', 'JSON') order by all"
        ).fetchall()
        for schema, table, column in columns:
            if schemas is not None and schema not in schemas:
                continue
            for (value,) in con.execute(
                f'select distinct "{column}"::varchar from "{schema}"."{table}" '
                f'where "{column}" is not null'
            ).fetchall():
                yield f"{schema}.{table}.{column}", value
    finally:
        con.close()


def world_pii(w: World) -> set[str]:
    """Every customer name, email and IBAN and every payment's consumer name, account and card
    holder the sandbox serves."""
    values: set[str] = set()
    for c in w.customers:
        values |= {c.name, c.email, c.iban}
    for p in w.payments:
        values |= _details(w, p)
    return {v for v in values if v}


def hits_in_files(root: Path, needles: set[str]) -> dict[str, list[str]]:
    encoded = [n.encode() for n in needles]
    found: dict[str, list[str]] = {}
    for path, data in files(root):
        hit = [n.decode() for n in encoded if n in data]
        if hit:
            found[str(path.relative_to(root))] = hit[:3]
    return found


def hits_in_tables(db: Path, needles: set[str], schemas: Iterable[str] | None = None):
    return sorted(
        {(where, n) for where, value in text_values(db, schemas) for n in needles if n in value}
    )


# -- secrets ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_token_and_pii_key_are_nowhere(history, measured) -> None:
    root = history.deployment.root
    scanned = list(files(root))
    assert {p.name for p, _ in scanned} >= {"w.duckdb", "mollie_ledger.prom", "index.html"}
    assert any("dagster_home" in str(p) for p, _ in scanned)
    assert any("quality-docs" in str(p) for p, _ in scanned)
    leaks = [str(p) for p, data in scanned if CANARY in data]
    leaks += [f"output #{i}" for i, text in enumerate(history.outputs) if CANARY.decode() in text]
    leaks += [r for r in history.frappe_requests if CANARY.decode() in r]
    leaks += [w for w, v in text_values(history.deployment.db) if CANARY.decode() in v]
    assert leaks == []
    measured.record(
        "secrets",
        "token and PII key after 6 killed runs and 2 full ones",
        tried=len(scanned) + len(history.outputs),
        lost=0,
        duplicated=0,
        note=f"{len(scanned)} files (DuckDB bytes and text columns, Dagster storage, dlt, "
        "exports, report, Data Docs, metrics), every process output and Frappe request: 0 hits",
    )


# -- personal data ----------------------------------------------------------------------------


@pytest.mark.slow
def test_no_customer_data_in_clear_past_raw(history, measured) -> None:
    needles = world_pii(build_world(world()))
    root = history.deployment.root
    in_files = {
        f"{folder}/{path}": hit
        for folder in DERIVED
        if (root / folder).exists()
        for path, hit in hits_in_files(root / folder, needles).items()
    }
    in_tables = hits_in_tables(
        history.deployment.db, needles, ("staging", "intermediate", "marts", "export")
    )
    in_frappe = [r for r in history.frappe_requests if any(n in r for n in needles)]
    assert in_files == {} and in_tables == [] and in_frappe == []
    # The raw data does hold them (the scan would see them): the test is not vacuous.
    assert hits_in_tables(history.deployment.db, needles, ("mollie",))
    measured.record(
        "privacy",
        "customer names, emails, IBANs, card holders past raw",
        tried=len(needles),
        lost=0,
        duplicated=0,
        note="0 hits in staging, marts, export tables, CSV exports, report, Data Docs, "
        "metrics, Dagster storage, Frappe requests",
    )


# -- erasure ----------------------------------------------------------------------------------


def _spoiling(target_payment: str):
    """A client whose transport breaks one payment's amount: it lands in quarantine, with the
    customer's data in its raw JSON."""

    local = threading.local()

    def handle(request: httpx.Request) -> httpx.Response:
        upstream = getattr(local, "client", None) or httpx.Client(timeout=60)
        local.client = upstream
        answer = upstream.send(httpx.Request(request.method, request.url, headers=request.headers))
        headers = {k: v for k, v in answer.headers.items() if k.lower() != "content-length"}
        if not request.url.path.endswith("/v2/payments") or answer.status_code != 200:
            return httpx.Response(answer.status_code, headers=headers, content=answer.content)
        page = answer.json()
        for item in page["_embedded"]["payments"]:
            if item["id"] == target_payment:
                item["amount"]["value"] = "12,50"
        return httpx.Response(200, headers=headers, content=json.dumps(page).encode())

    def factory(settings: ClientSettings) -> MollieClient:
        return MollieClient(settings, transport=httpx.MockTransport(handle))

    return factory


def _details(w: World, payment) -> set[str]:
    details = render.render_payment(w, payment, "").get("details") or {}
    return {v for k in PII_DETAIL_KEYS if (v := details.get(k))}


def _erasable(w: World):
    """A customer with bank-account payments whose name and IBAN no other payment carries (a
    payment without a customer link is matched only at erasure, see extract.erasure)."""
    for c in w.customers:
        mine = [p for p in w.payments if p.customer_id == c.id]
        personal = {c.name, c.email, c.iban}.union(*(_details(w, p) for p in mine))
        others = set().union(*(_details(w, p) for p in w.payments if p.customer_id != c.id))
        if sum(1 for p in mine if p.consumer_account) >= 2 and not personal & others:
            return c, mine, personal
    raise AssertionError("the world has no suitable customer")


def test_erase_customer_removes_it_everywhere_and_keeps_the_books(
    tmp_path, clean_warehouse, monkeypatch, measured
) -> None:
    monkeypatch.setenv("MOLLIE_LEDGER_PII_KEY", "test-pii-key")  # as the clean warehouse
    for name in ("MOLLIE_ACCESS_TOKEN", "SOURCES__MOLLIE__ACCESS_TOKEN", "MOLLIE_LEDGER_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    db = tmp_path / "w.duckdb"
    shutil.copy(clean_warehouse, db)
    w = build_world(world())
    customer, payments, personal = _erasable(w)

    with SandboxServer(world()) as sandbox:
        # Mollie serves one of its payments broken: it waits in quarantine, raw JSON and all.
        spoiled = run_extract(  # a sweep: the warehouse has these payments already
            db,
            settings=settings_for(sandbox),
            client_factory=_spoiling(payments[0].id),
            sweep_hours=0,
        )
        assert spoiled.quarantined == {"payments": 1}
        assert hits_in_tables(db, personal, ("mollie",))  # it is there before
        before = fingerprint(db)

        result = CliRunner().invoke(main, ["erase-customer", customer.id, "--db", str(db)])
        assert result.exit_code == 0, result.output
        assert f"Erased {customer.id}: rows blanked:" in result.output
        assert "Books unchanged: no new reconciliation findings, every entry balanced." in (
            result.output
        )
        after_erase = fingerprint(db)
        left = hits_in_tables(db, personal) + sorted(hits_in_files(tmp_path, personal))

        # Mollie serves the customer and its payments again (a look-back sweep re-reads them),
        # the broken one too: loaded, they are blanked at once.
        run_extract(
            db,
            settings=settings_for(sandbox),
            client_factory=_spoiling(payments[0].id),
            sweep_hours=0,
        )
        back = hits_in_tables(db, personal) + sorted(hits_in_files(tmp_path, personal))

    assert left == []  # raw, staging, quarantine, dlt's folder, and the file's own bytes
    assert back == []
    assert differences(after_erase, before) == {}  # same rows, same money, every table
    con = duckdb.connect(str(db), read_only=True)
    try:
        quarantined = con.execute(
            "select reason, raw from mollie.quarantine where object_id = ?", [payments[0].id]
        ).fetchall()
    finally:
        con.close()
    assert quarantined == [
        (
            "amount.value: expected a decimal string like '10.00', got '12,50'"
            " [raw record erased on request]",
            None,
        )
    ]
    measured.record(
        "privacy",
        "erase-customer, then Mollie serves the customer again",
        tried=len(personal),
        lost=0,
        duplicated=0,
        note=f"its {len(personal)} values (name, email, IBAN; also as consumer name and account "
        f"on {len(payments)} payments, one quarantined) gone from every table, the quarantine, "
        "dlt's folder and the file's bytes, and still gone after a re-extract; books unchanged "
        "(rows and sums of every table, no new finding)",
    )
