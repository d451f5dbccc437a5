"""The financial report from a real warehouse: its sections, amounts exactly as the marts have
them, well-formed and self-contained HTML; and as a Dagster asset that links the file."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.report_asset import financial_report
from orchestration.warehouse import Warehouse
from reporting.report import SECTIONS, render_report, write_report

VOID = {"meta", "br", "img", "input", "link", "hr", "rect", "line", "polyline"}
GENERATED = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)


class StrictParser(HTMLParser):
    """Checks every element is closed in order; records text and attributes seen."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.attributes: list[tuple[str, str, str | None]] = []
        self.ids: set[str] = set()
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.attributes += [(tag, k, v) for k, v in attrs]
        self.ids |= {v for k, v in attrs if k == "id" and v}
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.attributes += [(tag, k, v) for k, v in attrs]

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def parse(page: str) -> StrictParser:
    parser = StrictParser()
    parser.feed(page)
    parser.close()
    assert parser.errors == [] and parser.stack == [], (parser.errors, parser.stack)
    return parser


def cells(page: str) -> set[str]:
    """Every table cell's text (unescaped)."""
    parser = parse(page)
    return {t.strip() for t in parser.text}


def exact(db: Path, sql: str) -> list[str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return [r[0] for r in con.execute(sql).fetchall()]
    finally:
        con.close()


@pytest.fixture
def findings_db(built_warehouse, warehouse_with) -> Path:
    stl = exact(
        built_warehouse,
        "select settlement_id from marts.settlement_reconciliation where status = 'matched' "
        "order by settled_at limit 1",
    )[0]
    return warehouse_with(
        f"update mollie.settlements set amount = amount + 0.01 where id = '{stl}'",
        "update mollie.balances set available_amount = -50000 where currency = 'GBP'",
    )


@pytest.fixture
def page(findings_db) -> str:
    con = duckdb.connect(str(findings_db), read_only=True)
    try:
        return render_report(con, generated_at=GENERATED)
    finally:
        con.close()


def test_every_section_is_there(page):
    parser = parse(page)
    assert {key for key, _, _ in SECTIONS} <= parser.ids
    for _, title, _ in SECTIONS:
        assert f"<h2>{title}</h2>" in page
    sections = dict(re.findall(r'<section id="(\w+)">(.*?)</section>', page))
    for key in ("daily", "fees", "mrr"):
        assert "<svg" in sections[key], f"{key} has a chart"
    assert sections["daily"].count("<svg") == 2  # one per currency (EUR, GBP)
    assert "Data up to 2026-11-01" in page


def test_amounts_are_exactly_the_marts(page, findings_db):
    text = cells(page)
    checks = {
        "ending balance": "select cast(ending_balance as varchar) from marts.daily_overview "
        "where day = (select max(day) from marts.daily_overview)",
        "settlement amount": "select cast(amount as varchar) from marts.settlement_reconciliation "
        "order by settled_date desc nulls first, settlement_id limit 5",
        "fees": "select cast(fees as varchar) from marts.fees_by_method_month",
        "mrr": "select cast(mrr as varchar) from marts.subscription_mrr",
        "chargebacks": "select cast(amount as varchar) from marts.chargeback_cases "
        "where state = 'open'",
        "finding difference": "select cast(difference as varchar) "
        "from marts.reconciliation_exceptions",
        "forecast": "select cast(expected_available as varchar) from marts.balance_forecast "
        "where is_anomaly",
    }
    for name, sql in checks.items():
        values = exact(findings_db, sql)
        assert values, name
        missing = [v for v in values if v not in text]
        assert not missing, f"{name}: {missing} not printed exactly"


def test_findings_and_anomalies_are_listed(page, findings_db):
    text = cells(page)
    for object_id in exact(findings_db, "select object_id from marts.reconciliation_exceptions"):
        assert object_id in text
    assert "negative_balance" in page
    for status in exact(findings_db, "select distinct status from marts.settlement_reconciliation"):
        assert status in text  # payouts by status, including the mismatch


def test_page_is_self_contained(page):
    parser = parse(page)
    assert "<script" not in page and "<link" not in page and "<iframe" not in page
    external = [
        (tag, key, value)
        for tag, key, value in parser.attributes
        if key in {"src", "href", "xlink:href"} and value and not value.startswith("#")
    ]
    assert external == []
    assert not re.search(r"url\(\s*['\"]?https?:", page), "no external CSS resources"


def test_text_is_escaped(built_warehouse, warehouse_with):
    db = warehouse_with(
        "update mollie.chargebacks set reason_code = '<script>alert(1)</script>' "
        "where id = (select min(id) from mollie.chargebacks where reversed_at is null)"
    )
    con = duckdb.connect(str(db), read_only=True)
    page = render_report(con, generated_at=GENERATED)
    con.close()
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    parse(page)


def test_missing_marts_leave_a_note_not_a_crash(tmp_path):
    con = duckdb.connect(str(tmp_path / "empty.duckdb"))
    page = render_report(con, generated_at=GENERATED)
    con.close()
    parse(page)
    assert page.count("Not available yet") == len(SECTIONS)


def test_write_is_atomic_and_goes_to_the_report_dir(findings_db, tmp_path, monkeypatch):
    monkeypatch.setenv("MOLLIE_LEDGER_REPORT_DIR", str(tmp_path / "rep"))
    con = duckdb.connect(str(findings_db), read_only=True)
    path = write_report(con, generated_at=GENERATED)
    con.close()
    assert path == tmp_path / "rep" / "index.html"
    assert [p.name for p in path.parent.iterdir()] == ["index.html"]


def test_report_asset_links_the_file(findings_db, tmp_path, monkeypatch):
    monkeypatch.setenv("MOLLIE_LEDGER_REPORT_DIR", str(tmp_path / "report"))
    result = dg.materialize(
        [financial_report], resources={"warehouse": Warehouse(database=str(findings_db))}
    )
    [event] = result.get_asset_materialization_events()
    path = Path(event.materialization.metadata["path"].value)
    assert path == (tmp_path / "report" / "index.html").resolve()
    assert "<h2>Payouts</h2>" in path.read_text(encoding="utf-8")
