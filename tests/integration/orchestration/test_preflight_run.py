"""`run`, `extract` and the Dagster job refuse an incomplete configuration before any network work,
naming every missing setting once (not once per model, after the whole extract)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner

from cli.main import main

PII_MISSING = "MOLLIE_LEDGER_PII_KEY is not set"
FRAPPE_HALF = "FRAPPE_URL is set but FRAPPE_API_KEY and FRAPPE_API_SECRET is not"


@pytest.fixture
def mollie_requests() -> Iterator[tuple[str, list[str]]]:
    """A local stand-in for Mollie that records every request it gets (it should get none)."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            self.send_response(500)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/v2", seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def incomplete(monkeypatch, tmp_path, mollie_requests) -> Path:
    """A real token but no PII key, and Frappe's URL without its credentials."""
    base_url, _ = mollie_requests
    for name in (
        "SOURCES__MOLLIE__ACCESS_TOKEN",
        "MOLLIE_LEDGER_PII_KEY",
        "MOLLIE_LEDGER_CONFIG",
        "FRAPPE_API_KEY",
        "FRAPPE_API_SECRET",
        "DAGSTER_HOME",
        "PROMETHEUS_PUSHGATEWAY_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MOLLIE_ACCESS_TOKEN", "access_preflight0000000000000000")
    monkeypatch.setenv("MOLLIE_API_BASE_URL", base_url)
    monkeypatch.setenv("FRAPPE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("MOLLIE_LEDGER_DB", str(tmp_path / "w.duckdb"))
    for name, folder in (("BANK", "bank"), ("EXPORT", "exports"), ("REPORT", "report")):
        monkeypatch.setenv(f"MOLLIE_LEDGER_{name}_DIR", str(tmp_path / folder))
    return tmp_path


def test_run_names_every_missing_setting_once_and_exits_1(incomplete, mollie_requests) -> None:
    result = CliRunner().invoke(main, ["run"])
    assert result.exit_code == 1, result.output
    assert result.output.startswith("FAILED:")
    assert result.output.count(PII_MISSING) == 1
    assert result.output.count(FRAPPE_HALF) == 1
    assert mollie_requests[1] == []  # Mollie was never asked
    assert not (incomplete / "w.duckdb").exists()


def test_extract_refuses_a_malformed_setting_before_asking_mollie(
    incomplete, mollie_requests, monkeypatch
) -> None:
    monkeypatch.setenv("MOLLIE_RATE_PER_SECOND", "fast")
    result = CliRunner().invoke(main, ["extract"])
    assert result.exit_code == 1, result.output
    assert "the configuration is incomplete" in result.output
    assert result.output.count("MOLLIE_RATE_PER_SECOND") == 1
    assert PII_MISSING not in result.output  # the extract does not pseudonymise: not its setting
    assert mollie_requests[1] == []


def test_the_dagster_job_fails_at_run_start_before_the_extract(incomplete, mollie_requests) -> None:
    from orchestration.definitions import defs

    job = defs.resolve_job_def("daily_ledger")
    with dg.DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    started = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_START]
    assert started == []  # no step ran: not the extract, not the bank statements
    failures = [
        e
        for e in result.all_events
        if e.event_type
        in (dg.DagsterEventType.RESOURCE_INIT_FAILURE, dg.DagsterEventType.RUN_FAILURE)
    ]
    text = "\n".join(str(e.message) + str(e.event_specific_data) for e in failures)
    assert text.count(PII_MISSING) >= 1 and FRAPPE_HALF in text
    assert mollie_requests[1] == []
    assert not (incomplete / "w.duckdb").exists()


def test_the_extract_asset_alone_checks_its_settings_first(
    incomplete, mollie_requests, monkeypatch
) -> None:
    from dagster_dlt import DagsterDltResource

    from orchestration.extract_assets import extract_assets

    monkeypatch.setenv("MOLLIE_RATE_PER_SECOND", "fast")
    result = dg.materialize(
        [extract_assets], resources={"dlt": DagsterDltResource()}, raise_on_error=False
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert "MOLLIE_RATE_PER_SECOND" in failure.step_failure_data.error.message
    assert mollie_requests[1] == []


def test_a_run_without_the_extract_needs_no_token_but_its_own_settings(
    incomplete, monkeypatch
) -> None:
    from orchestration.transform_assets import transform_assets
    from orchestration.warehouse import Warehouse

    monkeypatch.delenv("MOLLIE_ACCESS_TOKEN")
    monkeypatch.delenv("FRAPPE_URL")
    monkeypatch.setenv("MOLLIE_LEDGER_CONFIG", str(incomplete / "missing.toml"))
    mart = next(a for a in transform_assets if a.key == dg.AssetKey(["marts", "daily_overview"]))
    resources = {"warehouse": Warehouse(database=str(incomplete / "w.duckdb"))}
    result = dg.materialize([mart], resources=resources, raise_on_error=False)
    assert not result.success
    assert not [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_START]
    text = "\n".join(
        str(e.message) + str(e.event_specific_data)
        for e in result.all_events
        if e.event_type == dg.DagsterEventType.RESOURCE_INIT_FAILURE
    )
    assert "missing.toml does not exist (MOLLIE_LEDGER_CONFIG)" in text
    assert "no Mollie token" not in text  # rebuilding the marts reads no Mollie
