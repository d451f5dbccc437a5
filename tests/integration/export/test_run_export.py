"""`run_export` (what `mollie-ledger export [--dry-run]` calls): gates, CSV, Frappe or dry run."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from export.dry_run import DRY_RUN_DIR, INDEX
from export.gates import GateRefusal
from export.outbox import latest_states
from export.payload import POSTING_KEY_FIELD
from export.run import NO_FRAPPE, format_report, run_export

# ERPNext 15's Journal Entry doctypes (field names, types, flags), with their source inside.
DOCTYPES = Path(__file__).parents[2] / "fixtures" / "erpnext" / "journal_entry_doctypes.json"
FIXTURE = Path(__file__).parents[3] / "export" / "fixtures" / "custom_field.json"


@pytest.fixture
def export_env(monkeypatch, tmp_path) -> Path:
    out = tmp_path / "exports"
    monkeypatch.setenv("MOLLIE_LEDGER_EXPORT_DIR", str(out))
    for name in ("FRAPPE_URL", "FRAPPE_API_KEY", "FRAPPE_API_SECRET", "MOLLIE_LEDGER_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    return out


@pytest.fixture
def frappe_env(monkeypatch, export_env, frappe) -> Path:
    monkeypatch.setenv("FRAPPE_URL", frappe.url)
    monkeypatch.setenv("FRAPPE_API_KEY", frappe.api_key)
    monkeypatch.setenv("FRAPPE_API_SECRET", frappe.api_secret)
    return export_env


def snapshot(folder: Path) -> dict[str, tuple[int, bytes]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_export_posts_and_writes_csv(gates_passed, frappe_env, frappe):
    report = run_export(dry_run=False, db_path=gates_passed)

    assert report.ok
    assert (frappe_env / "manifest.json").exists()
    assert len(report.csv.files) >= 13
    counts = report.posting.counts()
    assert counts["posted"] == len(frappe.journal_entries) > 0
    assert counts["review"] > 0  # the GBP entries
    text = format_report(report)
    assert f"{counts['posted']} posted" in text and frappe.api_secret not in text

    again = run_export(dry_run=False, db_path=gates_passed)
    assert again.posting.counts()["posted"] == 0
    assert again.posting.counts()["unchanged"] == counts["posted"]


def test_without_frappe_url_nothing_is_posted(gates_passed, export_env):
    report = run_export(dry_run=False, db_path=gates_passed)
    assert report.posting is None and report.frappe_note == NO_FRAPPE
    assert NO_FRAPPE in format_report(report)
    with duckdb.connect(str(gates_passed)) as con:
        assert con.execute("select count(*) from export.review").fetchone() == (0,)


def test_no_gate_results_yet_refuses(db, export_env):
    with pytest.raises(GateRefusal, match="mollie-ledger run"):
        run_export(dry_run=False, db_path=db)
    assert not export_env.exists()


def test_failed_gate_refuses_replaces_no_csv_and_posts_nothing(
    gates_passed, frappe_env, frappe, record_gate_result
):
    run_export(dry_run=True, db_path=gates_passed)  # a previous, good export
    before = snapshot(frappe_env)
    assert "manifest.json" in before and f"{DRY_RUN_DIR}/{INDEX}" in before
    with duckdb.connect(str(gates_passed)) as con:
        record_gate_result(con, passed=False, severity="ERROR")
        # the marts change after the bad check: an export now would rewrite every file
        con.execute("update marts.journal_entry_lines set account = account || ' '")

    with pytest.raises(GateRefusal) as err:
        run_export(dry_run=False, db_path=gates_passed)
    with pytest.raises(GateRefusal):
        run_export(dry_run=True, db_path=gates_passed)

    assert "severity ERROR" in str(err.value) and "settlement_identities" in str(err.value)
    assert snapshot(frappe_env) == before
    assert frappe.requests == [] and frappe.journal_entries == {}
    with duckdb.connect(str(gates_passed)) as con:
        assert latest_states(con) == {}


def test_failed_warning_does_not_block(gates_passed, export_env, record_gate_result):
    with duckdb.connect(str(gates_passed)) as con:
        record_gate_result(con, passed=False, severity="WARN", check="forecast_anomaly")
    report = run_export(dry_run=False, db_path=gates_passed)
    assert "1 failed warning" in format_report(report)


def test_dry_run_writes_the_exact_payloads_and_posts_nothing(gates_passed, frappe_env, frappe):
    report = run_export(dry_run=True, db_path=gates_passed)

    folder = frappe_env / DRY_RUN_DIR
    index = json.loads((folder / INDEX).read_text(encoding="utf-8"))
    assert frappe.requests == []
    with duckdb.connect(str(gates_passed)) as con:
        assert latest_states(con) == {}
        entries = con.execute("select posting_key from marts.journal_entries").fetchall()
    assert {e["posting_key"] for e in index["entries"]} == {k for (k,) in entries}
    would = [e for e in index["entries"] if e["action"] == "would_post"]
    assert len(would) == report.dry_run.counts["would_post"] > 0
    assert all(
        e["action"] == "review" and "multi-currency" in e["reason"]
        for e in index["entries"]
        if e["action"] != "would_post"
    )
    # Posting the dry-run files byte for byte is what a real run does.
    import httpx

    headers = {"Authorization": frappe.auth_header, "Content-Type": "application/json"}
    for entry in would:
        body = (folder / entry["file"]).read_bytes()
        response = httpx.post(
            f"{frappe.url}/api/resource/Journal Entry", content=body, headers=headers
        )
        assert response.status_code == 200, response.text
    assert len(frappe.journal_entries) == len(would)

    # After a real run (on a fresh site), the dry run says they are posted already.
    frappe.reset()
    run_export(dry_run=False, db_path=gates_passed)
    again = run_export(dry_run=True, db_path=gates_passed)
    assert again.dry_run.counts["would_post"] == 0
    assert again.dry_run.counts["already_posted"] == len(would)


def test_every_payload_field_exists_in_the_erpnext_doctypes(gates_passed, export_env):
    """Field names checked against ERPNext 15's doctypes (facts kept in tests/fixtures/erpnext)."""
    doctypes = json.loads(DOCTYPES.read_text(encoding="utf-8"))["doctypes"]
    header = {"name": "Journal Entry", **doctypes["Journal Entry"]}
    rows = {"name": "Journal Entry Account", **doctypes["Journal Entry Account"]}
    header_fields = {f["fieldname"]: f for f in header["fields"]}
    row_fields = {f["fieldname"]: f for f in rows["fields"]}
    (custom,) = json.loads(FIXTURE.read_text(encoding="utf-8"))
    assert custom["fieldname"] == POSTING_KEY_FIELD and custom["dt"] == header["name"]
    assert custom["insert_after"] in header_fields
    allowed_header = set(header_fields) | {custom["fieldname"], "docstatus"}  # docstatus: standard
    voucher_types = header_fields["voucher_type"]["options"].split("\n")

    run_export(dry_run=True, db_path=gates_passed)
    folder = export_env / DRY_RUN_DIR
    payloads = [json.loads(p.read_bytes()) for p in folder.glob("mollie-*.json")]
    assert payloads
    for doc in payloads:
        assert set(doc) <= allowed_header, set(doc) - allowed_header
        assert doc["voucher_type"] in voucher_types
        assert header_fields["accounts"]["options"] == rows["name"]
        for row in doc["accounts"]:
            assert set(row) <= set(row_fields), set(row) - set(row_fields)
        for name in ("voucher_type", "posting_date", "company", "accounts"):  # reqd in the JSON
            assert header_fields[name].get("reqd") == 1 and doc[name]
        if doc["voucher_type"] == "Bank Entry":
            assert doc["cheque_no"] and doc["cheque_date"]
