"""The clearing-account model against the Frappe stand-in: what the configuration offers posts
(Debtors with a party, no VAT registration), a warehouse that posted per-settlement entries
migrates without a double post, and a posted entry that vanishes from the marts is a finding."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import duckdb
import httpx
import journal_rows
import pytest

from export.dry_run import write_dry_run
from export.outbox import POSTED, Outbox
from export.payload import POSTING_KEY_FIELD, encode_json
from export.posting import LegacyEntriesError, post_entries
from sandbox.frappe import FrappeTestServer
from transforms.build import build_all, build_model, prepare
from transforms.config import LedgerConfig
from transforms.models import discover

JOURNAL = ("journal_entry_status", "journal_entry_lines", "journal_entries")
PII_KEY = "test-pii-key"
AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def rebuild_journal(con: duckdb.DuckDBPyConnection, config: LedgerConfig) -> None:
    """The configuration as config.* tables, then the journal models on the same warehouse."""
    prepare(con, config, PII_KEY)
    for model in discover():
        if model.name in JOURNAL:
            build_model(con, model)


def stored(frappe: FrappeTestServer) -> Counter[str]:
    return Counter(doc[POSTING_KEY_FIELD] for doc in frappe.journal_entries.values())


def eur_keys(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {
        k
        for (k,) in con.execute(
            "select posting_key from marts.journal_entries where currency = 'EUR'"
        ).fetchall()
    }


def test_receipts_to_debtors_post_with_the_configured_customer(con, frappe, client):
    base = LedgerConfig.load()
    debtors = dataclasses.replace(
        base,
        accounts={**base.accounts, "receipts": "Debtors - VGV"},
        parties={"receipts": ("Customer", "Webshop Customers")},
    )
    rebuild_journal(con, debtors)

    report = post_entries(con, client, company_currency="EUR")

    assert set(report.keys("posted")) == eur_keys(con) and report.failed == 0
    receivable_rows = [
        row
        for doc in frappe.journal_entries.values()
        for row in doc["accounts"]
        if row["account"] == "Debtors - VGV"
    ]
    assert receivable_rows
    assert all(
        (r["party_type"], r["party"]) == ("Customer", "Webshop Customers") for r in receivable_rows
    )
    # Every profit-and-loss row names the cost centre, never an empty one.
    for doc in frappe.journal_entries.values():
        for row in doc["accounts"]:
            if row["account"] in ("Payment Processing Fees - VGV", "Sales Returns - VGV"):
                assert row["cost_center"] == "Main - VGV"


def test_debtors_without_a_party_are_refused_by_frappe_so_the_config_requires_one(
    con, frappe, client, tmp_path
):
    base = LedgerConfig.load()
    rebuild_journal(
        con, dataclasses.replace(base, accounts={**base.accounts, "receipts": "Debtors - VGV"})
    )

    report = post_entries(con, client, company_currency="EUR")

    eur = eur_keys(con)
    refused = [o for o in report.outcomes if o.result == "review" and o.posting_key in eur]
    assert refused and all("Party Type and Party is required" in o.message for o in refused)
    assert all(o.posting_key.startswith("mollie-day-") for o in refused)
    # The configuration checks what ERPNext would refuse before anything runs.
    bad = tmp_path / "ledger.toml"
    bad.write_text('[books.parties]\nreceipts = { party_type = "Customer", party = "" }\n')
    with pytest.raises(Exception, match="party must name the Customer"):
        LedgerConfig.load(bad, env={})


def test_not_vat_registered_needs_no_input_vat_account_and_posts_no_fee_vat(
    con, frappe, client, tmp_path
):
    path = tmp_path / "ledger.toml"
    path.write_text('[books]\nvat_registered = false\n\n[books.accounts]\ninput_vat = ""\n')
    config = LedgerConfig.load(path, env={})
    assert not config.vat_registered and "input_vat" not in config.accounts
    rebuild_journal(con, config)

    report = post_entries(con, client, company_currency="EUR")

    assert con.execute(
        "select count(*) from marts.journal_entry_status where entry_type = 'fee_vat'"
    ).fetchone() == (0,)
    assert report.keys("posted") and report.failed == 0
    assert not any(k.startswith("mollie-fee-vat-") for k in stored(frappe))
    with pytest.raises(Exception, match="input_vat"):
        registered = tmp_path / "registered.toml"
        registered.write_text('[books.accounts]\ninput_vat = ""\n')
        LedgerConfig.load(registered, env={})


def _post_old_model_entry(con, frappe, client, settlement_id: str) -> tuple[str, str]:
    """What a warehouse of the per-settlement model left behind: a settlement entry crediting
    Sales straight against Bank, in Frappe and in the outbox as posted."""
    key = f"mollie-settlement-{settlement_id}"
    amount = con.execute(
        "select amount from staging.stg_mollie__settlements where settlement_id = ?",
        [settlement_id],
    ).fetchone()[0]
    body = {
        "voucher_type": "Bank Entry",
        "posting_date": "2026-09-01",
        "cheque_no": "old-model",
        "cheque_date": "2026-09-01",
        "company": "Vereniging Groene Vork",
        POSTING_KEY_FIELD: key,
        "docstatus": 1,
        "accounts": [
            {
                "account": "Bank - VGV",
                "debit_in_account_currency": amount,
                "credit_in_account_currency": 0,
            },
            {
                "account": "Sales - VGV",
                "debit_in_account_currency": 0,
                "credit_in_account_currency": amount,
                "cost_center": "Main - VGV",
            },
        ],
    }
    doc = client.insert("Journal Entry", encode_json(body))
    Outbox(con, site=client.site, run_id="old-model").record(
        key, POSTED, source_id=settlement_id, payload_sha256="old", frappe_name=doc.name
    )
    return key, doc.name


def test_old_model_entries_stop_the_run_until_cancelled_then_nothing_posts_twice(
    con, frappe, client, tmp_path
):
    settlement = con.execute(
        "select settlement_id from marts.settlement_reconciliation where currency = 'EUR' "
        "and status = 'matched' order by settlement_id limit 1"
    ).fetchone()[0]
    key, name = _post_old_model_entry(con, frappe, client, settlement)

    dry = write_dry_run(con, tmp_path, company_currency="EUR")
    index = json.loads(dry.index.read_text(encoding="utf-8"))
    assert index["legacy_settlement_entries"] == [key]
    assert dry.counts["legacy_settlement_entries"] == 1

    with pytest.raises(LegacyEntriesError, match="per-settlement model") as refused:
        post_entries(con, client, company_currency="EUR")
    assert name in str(refused.value) and "Cancel them in ERPNext" in str(refused.value)
    assert set(stored(frappe)) == {key}, "nothing new was posted"
    review = dict(con.execute("select posting_key, kind from export.review").fetchall())
    assert review[key] == "legacy_entry"

    # The treasurer cancels it in ERPNext; the next run confirms that and posts the new model.
    httpx.put(
        f"{frappe.url}/api/resource/Journal Entry/{name}",
        content=json.dumps({"docstatus": 2}),
        headers={"Authorization": frappe.auth_header, "Content-Type": "application/json"},
    ).raise_for_status()
    report = post_entries(con, client, company_currency="EUR")

    assert report.legacy_retired == [key]
    assert set(report.keys("posted")) == eur_keys(con)
    assert max(stored(frappe).values()) == 1
    assert key not in dict(con.execute("select posting_key, kind from export.review").fetchall())
    lookups = len(frappe.requests)
    third = post_entries(con, client, company_currency="EUR")
    assert third.legacy_retired == [] and third.keys("posted") == []
    # Retired once: no more lookups of it than the site check needs.
    assert not any(key in (r.query or "") for r in frappe.requests[lookups:] if r.method == "GET")


def test_posted_entry_that_leaves_the_marts_is_a_finding(con, frappe, client):
    post_entries(con, client, company_currency="EUR")
    key = con.execute(
        "select posting_key from marts.journal_entries where entry_type = 'day' "
        "and currency = 'EUR' order by posting_key limit 1"
    ).fetchone()[0]
    con.execute("delete from marts.journal_entry_lines where posting_key = ?", [key])
    con.execute("delete from marts.journal_entries where posting_key = ?", [key])

    report = post_entries(con, client, company_currency="EUR")

    assert report.vanished_after_posting == [key]
    kind, reason = con.execute(
        "select kind, reason from export.review where posting_key = ?", [key]
    ).fetchone()
    assert kind == "vanished_after_posting" and "no longer produce" in reason
    assert con.execute(
        "select count(*) from export.audit_log where action = 'vanished_after_posting' "
        "and posting_key = ?",
        [key],
    ).fetchone() == (1,)


def test_a_row_of_every_category_posts_with_its_accounts(con, frappe, client):
    rows = journal_rows
    balance = con.execute(
        "select balance_id from staging.stg_mollie__balances where currency = 'EUR'"
    ).fetchone()[0]
    settlement = con.execute(
        "select settlement_id from marts.settlement_reconciliation where currency = 'EUR' "
        "and status = 'matched' order by settled_at desc limit 1"
    ).fetchone()[0]
    first, last = con.execute(
        "select min(created_at), max(created_at) from staging.stg_mollie__balance_transactions "
        "where balance_id = ?",
        [balance],
    ).fetchone()
    day0 = first - timedelta(days=40)  # one quiet day per row, before the balance's activity
    keys = set()
    for n, (category, spec) in enumerate(sorted(rows.first_type_per_category().items()), 1):
        tid, at, extra = f"baltr_post{n}", day0 + timedelta(days=n), {}
        gross = Decimal("-3.21") if spec["initial_sign"] == "-" else Decimal("3.21")
        if category == "payout":
            extra["transfer"] = "trf_post"
        if category == "payout_reversal":  # bounced after everything, so nothing sweeps it
            extra["settlement"], at = settlement, last + timedelta(minutes=5)
        con.execute(rows.row_sql(tid, spec["type"], at, gross, balance, **extra))
        keys.add(
            {
                "payout": f"mollie-payout-{tid}",
                "payout_reversal": f"mollie-payout-return-{tid}",
            }.get(category, f"mollie-day-{balance}-{at.astimezone(AMSTERDAM).date().isoformat()}")
        )
    build_all(con, LedgerConfig.load(), PII_KEY)

    report = post_entries(con, client, company_currency="EUR")

    assert keys <= set(report.keys("posted")), sorted(keys - set(report.keys("posted")))
    chart = frappe.chart.accounts
    for doc in frappe.journal_entries.values():
        for row in doc["accounts"]:
            if chart[row["account"]].report_type == "Profit and Loss":
                assert row["cost_center"] == "Main - VGV", (doc[POSTING_KEY_FIELD], row)


def test_a_date_outside_every_fiscal_year_waits_in_review_saying_what_to_create(
    con, frappe, client
):
    key, day = con.execute(
        "select posting_key, posting_date from marts.journal_entries where currency = 'EUR' "
        "and entry_type = 'day' order by posting_date limit 1"
    ).fetchone()
    frappe.fail_next(
        1,
        417,
        match=lambda p: p.get(POSTING_KEY_FIELD) == key,
        exc_type="FiscalYearError",
        message=f"Date {day:%d-%m-%Y} not in any active Fiscal Year for Vereniging Groene Vork",
    )

    report = post_entries(con, client, company_currency="EUR")

    (outcome,) = [o for o in report.outcomes if o.posting_key == key]
    assert outcome.result == "review"
    assert f"create the Fiscal Year holding {day.isoformat()}" in outcome.message
    assert report.failed == 0 and key not in stored(frappe)
