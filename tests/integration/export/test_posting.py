"""Posting journal entries to the Frappe test stand-in over HTTP, through the DuckDB outbox."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import duckdb
import pytest

from export.frappe_client import (
    FrappeAuthError,
    FrappeClient,
    FrappeConfigurationError,
)
from export.outbox import latest_states
from export.payload import POSTING_KEY_FIELD
from export.posting import post_entries
from export.settings import FrappeSettings
from sandbox.frappe import FrappeTestServer


def expected_keys(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Derived from the categorised ledger, not from the journal: per EUR balance and Amsterdam
    day with activity other than payouts a day entry, per payout its settlement's payout entry
    (a transfer outside any settlement: its own), per bounced payout a return entry, and the
    EUR fee VAT entries."""
    ledger = con.execute(
        "select distinct case category "
        "  when 'payout' then 'mollie-payout-' || coalesce(settlement_id, transaction_id) "
        "  when 'payout_reversal' then 'mollie-payout-return-' || transaction_id "
        "  else 'mollie-day-' || balance_id || '-' || strftime(created_date, '%Y-%m-%d') end "
        "from intermediate.int_ledger__categorised where currency = 'EUR'"
    ).fetchall()
    fee_vat = con.execute(
        "select posting_key from marts.journal_entries "
        "where entry_type = 'fee_vat' and currency = 'EUR'"
    ).fetchall()
    keys = {k for (k,) in ledger + fee_vat}
    for prefix in ("mollie-day-", "mollie-payout-stl_", "mollie-payout-return-", "mollie-fee-vat-"):
        assert any(k.startswith(prefix) for k in keys), f"the test world should have {prefix}…"
    return keys


def stored_keys(frappe: FrappeTestServer) -> Counter[str]:
    return Counter(doc[POSTING_KEY_FIELD] for doc in frappe.journal_entries.values())


def posts_of(frappe: FrappeTestServer, key: str) -> int:
    return sum(
        1
        for r in frappe.requests
        if r.method == "POST" and (r.payload or {}).get(POSTING_KEY_FIELD) == key
    )


def states(con: duckdb.DuckDBPyConnection) -> Counter[str]:
    return Counter(row.status for row in latest_states(con).values())


def first_key(con: duckdb.DuckDBPyConnection) -> str:
    return con.execute(
        "select posting_key from marts.journal_entries where currency = 'EUR' "
        "order by posting_date, posting_key limit 1"
    ).fetchone()[0]


def test_full_run_posts_every_day_payout_and_fee_vat_entry_once(con, frappe, client):
    report = post_entries(con, client, company_currency="EUR")

    expected = expected_keys(con)
    stored = stored_keys(frappe)
    assert set(stored) == expected and max(stored.values()) == 1
    assert set(report.keys("posted")) == expected
    assert report.failed == 0
    # Every stored entry is submitted and carries exactly the mart's lines.
    lines = con.execute(
        "select posting_key, account, debit, credit, cost_center from marts.journal_entry_lines"
    ).fetchall()
    # A line without a cost centre gets the company's default on the site, as on ERPNext.
    default_cost_center = frappe.chart.companies[frappe.company].cost_center
    by_key: dict[str, list[tuple]] = {}
    for key, account, debit, credit, cost_center in lines:
        row = (account, debit, credit, cost_center or default_cost_center)
        by_key.setdefault(key, []).append(row)
    for name, doc in frappe.journal_entries.items():
        assert doc["docstatus"] == 1
        key = doc[POSTING_KEY_FIELD]
        rows = [
            (
                r["account"],
                r["debit_in_account_currency"],
                r["credit_in_account_currency"],
                r.get("cost_center"),
            )
            for r in doc["accounts"]
        ]
        assert sorted(rows, key=str) == sorted(by_key[key], key=str), name
        assert doc["total_debit"] == doc["total_credit"]
    # The outbox knows every name Frappe gave.
    current = latest_states(con)
    assert {
        current[doc[POSTING_KEY_FIELD]].frappe_name for doc in frappe.journal_entries.values()
    } == set(frappe.journal_entries)
    # Non-EUR entries wait in review with the honest reason; nothing failed.
    review = con.execute("select kind, reason from export.review").fetchall()
    assert review and all(kind == "unsupported_currency" for kind, _ in review)
    assert all(
        "multi-currency posting needs exchange rates: not supported yet" in r for _, r in review
    )
    assert states(con) == Counter({"posted": len(expected), "review": len(review)})


def test_second_run_posts_nothing(con, frappe, client):
    first = post_entries(con, client, company_currency="EUR")
    requests_before = len(frappe.requests)
    outbox_rows = con.execute("select count(*) from export.outbox").fetchone()[0]

    second = post_entries(con, client, company_currency="EUR")

    assert second.keys("posted") == [] and second.keys("already_posted") == []
    assert len(second.keys("unchanged")) == len(first.keys("posted"))
    new = frappe.requests[requests_before:]
    assert [r for r in new if r.method == "POST"] == []
    # Review reasons unchanged: no new state rows at all.
    assert con.execute("select count(*) from export.outbox").fetchone()[0] == outbox_rows
    assert max(stored_keys(frappe).values()) == 1


def test_crash_after_insert_before_recording_posts_nothing_twice(con, frappe, frappe_settings):
    """The process dies after Frappe committed an insert and before the answer was recorded."""

    class CrashingClient(FrappeClient):
        inserts = 0

        def insert(self, doctype, body):
            doc = super().insert(doctype, body)
            type(self).inserts += 1
            if type(self).inserts == 3:
                raise KeyboardInterrupt("simulated crash between send and record")
            return doc

    with CrashingClient(frappe_settings) as crashing, pytest.raises(KeyboardInterrupt):
        post_entries(con, crashing, company_currency="EUR")
    pending = [k for k, row in latest_states(con).items() if row.status == "pending"]
    assert len(pending) == 1
    (key,) = pending
    assert stored_keys(frappe)[key] == 1  # Frappe has it; we did not record it

    with FrappeClient(frappe_settings) as client:
        report = post_entries(con, client, company_currency="EUR")

    assert key in report.keys("already_posted")
    assert posts_of(frappe, key) == 1  # looked up, not sent again
    stored = stored_keys(frappe)
    assert set(stored) == expected_keys(con) and max(stored.values()) == 1
    row = latest_states(con)[key]
    assert row.status == "posted" and row.frappe_name in frappe.journal_entries


def test_answer_lost_after_insert_is_resolved_by_lookup_not_a_second_post(con, frappe, client):
    key = first_key(con)
    frappe.drop_response_after_insert(1, match=lambda p: p.get(POSTING_KEY_FIELD) == key)

    report = post_entries(con, client, company_currency="EUR")

    assert key in report.keys("already_posted")
    assert posts_of(frappe, key) == 1
    assert max(stored_keys(frappe).values()) == 1
    lookups = con.execute(
        "select outcome from export.audit_log where action = 'lookup' and posting_key = ?", [key]
    ).fetchall()
    assert lookups == [("found",)]


def test_interrupted_run_without_retries_is_finished_by_the_next_run(con, frappe, frappe_settings):
    """No retry budget left: the entry is `failed`, the rerun finds it in Frappe first."""
    key = first_key(con)
    frappe.drop_response_after_insert(1, match=lambda p: p.get(POSTING_KEY_FIELD) == key)
    one_shot = FrappeSettings(
        frappe_settings.url, frappe_settings.api_key, frappe_settings.api_secret, attempts=1
    )
    with FrappeClient(one_shot) as client:
        first = post_entries(con, client, company_currency="EUR")
        assert first.keys("failed") == [key]
        assert latest_states(con)[key].status == "failed"
        second = post_entries(con, client, company_currency="EUR")
    assert second.keys("already_posted") == [key]
    assert posts_of(frappe, key) == 1
    assert max(stored_keys(frappe).values()) == 1


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retried_and_posted_once(con, frappe, client, sleeps, status):
    key = first_key(con)
    frappe.fail_next(3, status, match=lambda p: p.get(POSTING_KEY_FIELD) == key)

    report = post_entries(con, client, company_currency="EUR")

    assert key in report.keys("posted")
    assert posts_of(frappe, key) == 4  # 3 refused + 1 stored
    assert stored_keys(frappe)[key] == 1
    assert len(sleeps) == 3
    audit = con.execute(
        "select http_status from export.audit_log where action = 'insert' and posting_key = ? "
        "order by seq",
        [key],
    ).fetchall()
    assert audit == [(status,)] * 3 + [(200,)]
    assert latest_states(con)[key].status == "posted"


def test_429_waits_at_least_retry_after(con, frappe, client, sleeps):
    key = first_key(con)
    frappe.fail_next(1, 429, match=lambda p: p.get(POSTING_KEY_FIELD) == key, retry_after=7)

    report = post_entries(con, client, company_currency="EUR")

    assert key in report.keys("posted")
    assert sleeps and sleeps[0] >= 7
    assert stored_keys(frappe)[key] == 1


def test_retries_exhausted_mark_failed_and_others_continue(con, frappe, client):
    key = first_key(con)
    frappe.fail_next(5, 503, match=lambda p: p.get(POSTING_KEY_FIELD) == key)

    report = post_entries(con, client, company_currency="EUR")

    assert report.keys("failed") == [key]
    assert key not in stored_keys(frappe)
    assert set(stored_keys(frappe)) == expected_keys(con) - {key}
    row = latest_states(con)[key]
    assert row.status == "failed" and "503" in row.message

    again = post_entries(con, client, company_currency="EUR")
    assert again.keys("posted") == [key]
    assert stored_keys(frappe)[key] == 1


def test_validation_error_goes_to_review_with_decoded_message_others_posted(con, frappe, client):
    key = first_key(con)
    con.execute(
        "update marts.journal_entry_lines set account = 'Nonexistent - VGV' "
        "where posting_key = ? and role = 'clearing'",
        [key],
    )

    report = post_entries(con, client, company_currency="EUR")

    assert set(stored_keys(frappe)) == expected_keys(con) - {key}
    (outcome,) = [o for o in report.outcomes if o.posting_key == key]
    assert outcome.result == "review"
    assert outcome.message == "Could not find Row #1: Account: Nonexistent - VGV"
    kind, reason = con.execute(
        "select kind, reason from export.review where posting_key = ?", [key]
    ).fetchone()
    assert (kind, reason) == ("LinkValidationError", outcome.message)

    # The review entry is retried each run; the same refusal adds no new state row.
    rows = con.execute("select count(*) from export.outbox where posting_key = ?", [key]).fetchone()
    post_entries(con, client, company_currency="EUR")
    assert con.execute(
        "select count(*) from export.outbox where posting_key = ?", [key]
    ).fetchone() == (rows[0] + 2,)  # pending, review again
    # Once fixed at the source, the next run posts it.
    con.execute(
        "update marts.journal_entry_lines set account = 'Mollie EUR - VGV' "
        "where posting_key = ? and role = 'clearing'",
        [key],
    )
    fixed = post_entries(con, client, company_currency="EUR")
    assert fixed.keys("posted") == [key]
    assert stored_keys(frappe)[key] == 1


def test_injected_417_is_decoded_into_review(con, frappe, client):
    key = first_key(con)
    frappe.fail_next(
        1,
        417,
        match=lambda p: p.get(POSTING_KEY_FIELD) == key,
        exc_type="ValidationError",
        message="Account <strong>Bank - VGV</strong> is frozen",
    )

    report = post_entries(con, client, company_currency="EUR")

    (outcome,) = [o for o in report.outcomes if o.posting_key == key]
    assert (outcome.result, outcome.message) == ("review", "Account Bank - VGV is frozen")
    assert set(stored_keys(frappe)) == expected_keys(con) - {key}


def test_uniqueness_clash_means_already_posted(con, frappe, client):
    """Posted by someone else (or by a run whose outbox was lost): the name is looked up."""
    key = first_key(con)
    first = post_entries(con, client, company_currency="EUR")
    name = latest_states(con)[key].frappe_name
    con.execute("delete from export.outbox")  # the outbox is gone; Frappe remembers

    again = post_entries(con, client, company_currency="EUR")

    assert set(again.keys("already_posted")) == set(first.keys("posted"))
    assert again.keys("posted") == []
    assert latest_states(con)[key].frappe_name == name
    assert max(stored_keys(frappe).values()) == 1
    clash = [r for r in frappe.requests if r.exc_type == "UniqueValidationError"]
    assert len(clash) == len(first.keys("posted"))


def test_401_stops_with_configuration_message_and_marks_nothing_posted(con, frappe, client):
    frappe.set_auth_broken(True)

    with pytest.raises(FrappeAuthError) as err:
        post_entries(con, client, company_currency="EUR")

    message = str(err.value)
    assert "FRAPPE_API_KEY" in message and "FRAPPE_API_SECRET" in message
    assert frappe.api_secret not in message
    assert frappe.journal_entries == {}
    assert states(con)["posted"] == 0
    stopped = con.execute(
        "select http_status from export.audit_log where action = 'run_stopped'"
    ).fetchall()
    assert stopped == [(401,)]


def test_401_on_the_first_insert_stops_the_run(con, frappe, client):
    frappe.fail_next(1, 401)

    with pytest.raises(FrappeAuthError):
        post_entries(con, client, company_currency="EUR")

    assert frappe.journal_entries == {}
    assert [r for r in frappe.requests if r.method == "POST"][1:] == []  # nothing after it
    assert states(con) == Counter({"failed": 1})


def test_403_names_the_missing_permission(con, frappe, client):
    frappe.set_permissions(submit=False)

    with pytest.raises(FrappeAuthError) as err:
        post_entries(con, client, company_currency="EUR")

    assert "Insufficient Permission for Journal Entry (submit)" in str(err.value)
    assert "submit on Journal Entry" in str(err.value)
    assert frappe.journal_entries == {} and states(con)["posted"] == 0


def test_site_without_the_custom_field_is_refused_before_anything_is_sent(con, sleeps):
    with FrappeTestServer(posting_key_field=None) as frappe:
        settings = FrappeSettings(frappe.url, frappe.api_key, frappe.api_secret)
        with FrappeClient(settings) as client, pytest.raises(FrappeConfigurationError) as err:
            post_entries(con, client, company_currency="EUR")
        assert "export/fixtures/custom_field.json" in str(err.value)
        assert [r for r in frappe.requests if r.method == "POST"] == []
    assert states(con) == Counter()


def test_company_currency_must_match_the_site(con, frappe, client):
    with pytest.raises(FrappeConfigurationError, match="keeps its books in EUR"):
        post_entries(con, client, company_currency="GBP")
    assert frappe.journal_entries == {}


def test_mismatched_settlement_holds_its_payout_entry_in_review(con, frappe, client):
    from transforms.build import build_model
    from transforms.models import discover

    settlement = con.execute(
        "select settlement_id from marts.settlement_reconciliation "
        "where status = 'matched' and currency = 'EUR' order by settlement_id limit 1"
    ).fetchone()[0]
    con.execute(
        "update marts.settlement_reconciliation set status = 'mismatch', difference_ledger = 0.05 "
        "where settlement_id = ?",
        [settlement],
    )
    for model in discover():
        if model.name in ("journal_entry_status", "journal_entry_lines", "journal_entries"):
            build_model(con, model)

    report = post_entries(con, client, company_currency="EUR")

    assert [s.settlement_id for s in report.settlements_in_review] == [settlement]
    key = f"mollie-payout-{settlement}"
    assert key not in stored_keys(frappe)
    assert [h.posting_key for h in report.entries_held] == [key]
    review = dict(
        con.execute(
            "select kind, reason from export.review where source_id = ?", [settlement]
        ).fetchall()
    )
    assert "difference 0.05" in review["settlement_mismatch"]
    assert f"settlement {settlement} is in review" in review["held"]
    # The day entries around it post: only the payout waits.
    assert report.keys("posted") and all(k != key for k in report.keys("posted"))


def test_payload_amounts_are_exact_decimal_numbers(con, frappe, client):
    post_entries(con, client, company_currency="EUR")
    posted = [r for r in frappe.requests if r.method == "POST" and r.status == 200]
    for request in posted:
        for row in request.payload["accounts"]:
            for side in ("debit_in_account_currency", "credit_in_account_currency"):
                value = row[side]
                # Parsed by the server as a JSON number (Decimal), not as a string.
                assert isinstance(value, Decimal) and value == value.quantize(Decimal("0.01"))


def test_changed_after_posting_is_reported_not_reposted(con, frappe, client):
    key = first_key(con)
    post_entries(con, client, company_currency="EUR")
    for role, side in (("clearing", "debit"), ("receipts", "credit")):  # still balanced
        con.execute(
            f"update marts.journal_entry_lines set {side} = {side} + 1 "
            "where posting_key = ? and role = ?",
            [key, role],
        )
    posts = len([r for r in frappe.requests if r.method == "POST"])

    report = post_entries(con, client, company_currency="EUR")

    assert report.changed_after_posting == [key]
    assert len([r for r in frappe.requests if r.method == "POST"]) == posts
    assert latest_states(con)[key].status == "posted"
    assert con.execute(
        "select count(*) from export.audit_log where action = 'changed_after_posting'"
    ).fetchone() == (1,)
