"""The daily job for real, then what people see of it, in a real browser.

Once per module: the job the schedule `daily_ledger_schedule` targets runs in process against the
built-in Mollie sandbox (a small world) and the Frappe test stand-in, recorded in a temporary
DAGSTER_HOME; then `dagster-webserver` serves that instance on 127.0.0.1. Headless Chromium
(Debian's, driven by Playwright; no browser is downloaded) opens the asset lineage, the mart
`marts/settlement_reconciliation` and its quality gate, and the financial report, and each page
is saved as a screenshot under test-output/e2e/.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import duckdb
import httpx
import pytest

pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parents[2]
SCHEDULE = "daily_ledger_schedule"
MART = ("marts", "settlement_reconciliation")
MART_TABLE = ".".join(MART)
CHECK = "quality_gate"
GROUPS = ("extract", "staging", "reconciliation", "revenue", "exports")
REPORT_SECTIONS = ("daily", "payouts", "fees", "mrr", "chargebacks", "findings")
STARTUP_SECONDS = 180  # the webserver loads the definitions in a code server: ~20-40 s here
UI_TIMEOUT_MS = 60_000  # a busy 2-core machine renders the React app slowly
VIEWPORT = {"width": 1440, "height": 1000}


@dataclass(frozen=True)
class Ledger:
    """What the scheduled job left behind."""

    home: Path
    db: Path
    report: Path
    run_id: str
    rows: int  # in marts.settlement_reconciliation
    env: dict[str, str]  # the environment the job ran with (for the webserver)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def query(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def ledger(tmp_path_factory) -> Iterator[Ledger]:
    import dagster as dg

    from orchestration.run_events import failure_messages
    from sandbox.demo import sandbox_environment
    from sandbox.frappe import FrappeTestServer

    folder = tmp_path_factory.mktemp("e2e")
    home = folder / "dagster_home"
    home.mkdir()
    shutil.copyfile(PROJECT / "dagster.yaml", home / "dagster.yaml")
    data = folder / "data"
    with pytest.MonkeyPatch.context() as env, FrappeTestServer() as frappe:
        for name in (
            "MOLLIE_ACCESS_TOKEN",  # the sandbox's, set by sandbox_environment below
            "SOURCES__MOLLIE__ACCESS_TOKEN",
            "MOLLIE_API_BASE_URL",
            "MOLLIE_LEDGER_CONFIG",  # config/ledger.toml's defaults match the Frappe chart
            "MOLLIE_LEDGER_ALERT_WEBHOOK_URL",
            "PROMETHEUS_PUSHGATEWAY_URL",
            "DAGSTER_WEBSERVER_URL",
        ):
            env.delenv(name, raising=False)
        settings = {
            "DAGSTER_HOME": str(home),
            "MOLLIE_LEDGER_SANDBOX_PAYMENTS": "300",
            "MOLLIE_LEDGER_SANDBOX_DAYS": "30",
            "MOLLIE_LEDGER_DB": str(data / "mollie_ledger.duckdb"),
            "MOLLIE_LEDGER_BANK_DIR": str(data / "bank"),
            "MOLLIE_LEDGER_EXPORT_DIR": str(data / "exports"),
            "MOLLIE_LEDGER_REPORT_DIR": str(data / "report"),
            "MOLLIE_LEDGER_QUALITY_DOCS": str(data / "quality-docs"),
            "MOLLIE_LEDGER_WEBHOOK_QUEUE": str(data / "webhooks.sqlite"),
            "FRAPPE_URL": frappe.url,
            "FRAPPE_API_KEY": frappe.api_key,
            "FRAPPE_API_SECRET": frappe.api_secret,
        }
        for name, value in settings.items():
            env.setenv(name, value)

        from orchestration.definitions import defs

        schedule = defs.resolve_schedule_def(SCHEDULE)
        job = defs.resolve_job_def(schedule.job_name)
        assert job.name == "daily_ledger"
        quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
        with (
            sandbox_environment(data / "bank"),
            dg.DagsterInstance.get() as instance,
        ):
            assert Path(instance.root_directory).resolve() == home.resolve()
            result = job.execute_in_process(
                instance=instance, raise_on_error=False, run_config=quiet
            )
        assert result.success, failure_messages(result)

        db = Path(settings["MOLLIE_LEDGER_DB"])
        # Posted to the Frappe stand-in: every EUR entry (the books' currency); GBP ones wait
        # in review.
        posted = {doc["mollie_posting_key"] for doc in frappe.journal_entries.values()}
        eur = {
            key
            for (key,) in query(
                db, "select posting_key from marts.journal_entries where currency = 'EUR'"
            )
        }
        assert posted, "no journal entries reached the Frappe server"
        assert posted == eur

        report = Path(settings["MOLLIE_LEDGER_REPORT_DIR"]) / "index.html"
        assert report.is_file()
        [(rows,)] = query(db, f"select count(*) from {MART_TABLE}")
        assert rows > 0
        yield Ledger(home, db, report, result.run_id, rows, dict(os.environ))
    # MonkeyPatch.context() has put os.environ back as it was.


@pytest.fixture(scope="module")
def webserver(ledger, tmp_path_factory) -> Iterator[str]:
    """`dagster-webserver` (no daemon: nothing else runs) on the job's DAGSTER_HOME."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    folder = tmp_path_factory.mktemp("webserver")
    log_path = folder / "webserver.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dagster_webserver",
                "-m",
                "orchestration.definitions",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=ledger.env,
            cwd=folder,  # relative paths, if any, land in tmp, not in the project
            start_new_session=True,  # its own process group (it starts a code server)
        )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            assert proc.poll() is None, log_path.read_text()
            try:
                if httpx.get(f"{url}/server_info", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the webserver never answered:\n" + (
                log_path.read_text()
            )
            time.sleep(1)
        yield url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


@pytest.fixture
def page(browser, webserver):
    """A fresh browser page on the Dagster UI. Dagster's one-time "Join the Dagster community"
    dialog (shown on a new instance) is dismissed whenever it covers what a test looks for."""
    context = browser.new_context(viewport=VIEWPORT, base_url=webserver)
    context.set_default_timeout(UI_TIMEOUT_MS)
    page = context.new_page()
    page.add_locator_handler(page.get_by_role("button", name="Skip"), lambda skip: skip.click())
    try:
        yield page
    finally:
        context.close()


def visible(locator) -> None:
    from playwright.sync_api import expect

    expect(locator).to_be_visible(timeout=UI_TIMEOUT_MS)


def contains(locator, text: str) -> None:
    from playwright.sync_api import expect

    expect(locator).to_contain_text(text, timeout=UI_TIMEOUT_MS)


def open_ui(page, path: str) -> None:
    page.goto(path, wait_until="networkidle", timeout=UI_TIMEOUT_MS * 2)


def shoot(page, screenshots: Path, name: str) -> None:
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(screenshots / name), full_page=False)


def selection(key: tuple[str, ...]) -> str:
    """The global lineage filtered to one asset, that asset opened in the side panel (the URL
    behind "View in graph" on an asset's page)."""
    path = "/".join(key)
    selector = quote('key:"' + path + '"', safe="")
    return f"/asset-groups~{selector}/{quote(path, safe='')}"


def test_global_lineage_shows_the_groups_and_the_mart(page, screenshots):
    open_ui(page, "/asset-groups")
    visible(page.get_by_text("Global asset lineage"))
    graph = page.locator("svg foreignObject")  # the lineage graph's nodes: groups, collapsed
    for group in GROUPS:
        visible(graph.filter(has_text=re.compile(f"^{group}$")).first)
    # Open the mart's group in the graph (double-click), as a user would. Zoomed out this far,
    # Dagster draws small nodes with middle-truncated names ("settleme…ciliation"), so the
    # full name is read from the node's tooltip.
    graph.filter(has_text=re.compile(r"^reconciliation$")).first.dblclick()
    page.wait_for_url(re.compile(r"expanded=.*reconciliation"))
    node = graph.filter(has_text=re.compile(r"^settle\S*ciliation$")).first
    visible(node)
    node.hover()
    contains(page.get_by_role("tooltip").first, MART[-1])
    shoot(page, screenshots, "01-global-lineage.png")


def test_lineage_of_the_mart_shows_its_materialisation_and_check(page, ledger, screenshots):
    # The mart alone in the graph: its node says materialized and its check passed, and the
    # side panel shows the materialization of this very run with its row count. (A fresh
    # browser context: the UI remembers which groups were expanded or collapsed.)
    open_ui(page, selection(MART))
    graph = page.locator("svg foreignObject")
    node = graph.filter(has_text=MART[-1]).first
    visible(node)
    contains(node, "Materialized")
    contains(node, "1 / 1 Passed")  # Asset checks: quality_gate
    panel_title = page.get_by_text(" / ".join(MART), exact=True)
    visible(panel_title)
    visible(page.get_by_text("Latest materialization").first)
    visible(page.get_by_text(f"Run {ledger.run_id[:8]}").first)
    contains(page.locator("tr", has_text="dagster/row_count").first, str(ledger.rows))
    visible(page.get_by_text(CHECK, exact=True).first)
    shoot(page, screenshots, "02-lineage-settlement-reconciliation.png")


def test_mart_page_shows_materialisation_and_passed_check(page, ledger, screenshots):
    [(eur_amount,)] = query(
        ledger.db, f"select sum(amount) from {MART_TABLE} where currency = 'EUR'"
    )
    open_ui(page, "/assets/" + "/".join(MART))
    visible(page.get_by_role("tab", name="Overview"))
    visible(page.get_by_text("Latest materialization").first)
    visible(page.get_by_text("Row count", exact=True))
    # The materialization's own metadata (orchestration/asset_metadata.py): the summary table.
    visible(page.get_by_text(f"{MART_TABLE}: {ledger.rows} rows").first)
    visible(page.locator("td", has_text=str(eur_amount)).first)
    visible(page.get_by_text("Latest check results"))
    shoot(page, screenshots, "03-mart-overview.png")

    page.get_by_role("tab", name="Checks").click()
    visible(page.get_by_text("Checks (1)"))
    visible(page.get_by_text(CHECK, exact=True).first)
    visible(page.get_by_text("Succeeded", exact=True).first)  # the check list's status
    visible(page.get_by_text("Passed", exact=True).first)  # the latest evaluation
    visible(page.get_by_text("blocking").first)
    shoot(page, screenshots, "04-mart-checks.png")

    # What the pages rendered, cross-checked against the GraphQL API they read, from the page
    # itself: the latest materialization is this run's, and the gate passed on it.
    answer = page.evaluate(
        """async (key) => {
            const q = `query($key: AssetKeyInput!) { assetOrError(assetKey: $key) {
              ... on Asset { assetMaterializations(limit: 1) { runId }
                definition { groupName assetChecksOrError { ... on AssetChecks { checks {
                  name blocking executionForLatestMaterialization { status runId } } } } } } } }`;
            const r = await fetch('/graphql', {method: 'POST',
              headers: {'Content-Type': 'application/json'},
              body: JSON.stringify({query: q, variables: {key: {path: key}}})});
            return (await r.json()).data.assetOrError;
        }""",
        list(MART),
    )
    assert answer["assetMaterializations"] == [{"runId": ledger.run_id}]
    assert answer["definition"]["groupName"] == "reconciliation"
    assert answer["definition"]["assetChecksOrError"]["checks"] == [
        {
            "name": CHECK,
            "blocking": True,
            "executionForLatestMaterialization": {"status": "SUCCEEDED", "runId": ledger.run_id},
        }
    ]


def test_financial_report_in_the_browser(browser, ledger, screenshots):
    from playwright.sync_api import expect

    [(settlement, amount)] = query(
        ledger.db,
        f"select settlement_id, amount from {MART_TABLE} where amount is not null "
        "order by settled_date desc nulls first, settlement_id limit 1",
    )
    assert isinstance(amount, Decimal)
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        page.goto(ledger.report.as_uri(), wait_until="load")
        for section in REPORT_SECTIONS:
            element = page.locator(f"section#{section}")
            expect(element).to_have_count(1)
            visible(element)
            visible(element.locator("h2"))
        chart = page.locator("section#daily").get_by_role("img").first
        chart.scroll_into_view_if_needed()
        visible(chart)
        box = chart.bounding_box()
        assert box is not None and box["width"] > 0 and box["height"] > 0, box
        assert page.locator("section#daily svg path").count() > 0  # the marks drawn
        # The settlement's amount exactly as the mart has it, in its own row of the payouts table.
        row = page.locator("section#payouts tr", has_text=settlement)
        expect(row).to_have_count(1)
        expect(row.get_by_role("cell", name=str(amount), exact=True)).to_be_visible()
        page.screenshot(path=str(screenshots / "05-financial-report.png"), full_page=True)
    finally:
        context.close()
