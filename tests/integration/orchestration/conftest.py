"""Operations tests: a real warehouse (sandbox over HTTP → DuckDB, every mart), copies of it to
corrupt, and a local webhook receiver that records what alerts POST."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest
from warehouse_builds import build_warehouse, rebuild

from extract.http_server import BackgroundHTTPService, TrackedHandler


@pytest.fixture(scope="session")
def built_warehouse(tmp_path_factory) -> Path:
    return build_warehouse(tmp_path_factory.mktemp("ops-wh"), 7)


@pytest.fixture
def warehouse_with(built_warehouse, tmp_path) -> Callable[..., Path]:
    """A private copy of the warehouse with SQL applied to its raw tables, models rebuilt."""

    def apply(*statements: str) -> Path:
        db = tmp_path / "w.duckdb"
        shutil.copy(built_warehouse, db)
        if statements:
            con = duckdb.connect(str(db))
            for sql in statements:
                con.execute(sql)
            con.close()
            rebuild(db)
        return db

    return apply


class _Recorder(TrackedHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status = self.server.owner.status
        if status < 300:
            self.server.owner.record(json.loads(body))
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


class WebhookReceiver(BackgroundHTTPService):
    """A Slack-style incoming webhook on 127.0.0.1 that keeps every JSON body it accepted."""

    handler_class = _Recorder
    thread_name = "alert-receiver"

    def __init__(self) -> None:
        super().__init__("127.0.0.1", 0)
        self.messages: list[dict] = []
        self.status = 200  # set to e.g. 500 to refuse
        self._lock = threading.Lock()

    def record(self, message: dict) -> None:
        with self._lock:
            self.messages.append(message)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/alerts"


@pytest.fixture
def receiver(monkeypatch) -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as service:
        monkeypatch.setenv("MOLLIE_LEDGER_ALERT_WEBHOOK_URL", service.url)
        monkeypatch.setenv("DAGSTER_WEBSERVER_URL", "http://dagster.test:3000")
        yield service
