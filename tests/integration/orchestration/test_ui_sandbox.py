"""`mollie-ledger ui --sandbox` (what `make ui` runs without a token): the sandbox serves beside
the Dagster UI, the runs' settings point at it, and SIGTERM stops both."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import httpx
import pytest
from ui_process import free_port, wait_until_ui_answers

from sandbox.server import DEFAULT_ACCESS_TOKEN


@pytest.mark.slow
def test_ui_with_the_sandbox_serves_both_and_stops_both(tmp_path):
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in ("DAGSTER_WEBSERVER_URL", "MOLLIE_ACCESS_TOKEN", "SOURCES__MOLLIE__ACCESS_TOKEN")
    }
    env.update({"MOLLIE_LEDGER_SANDBOX_PAYMENTS": "100", "MOLLIE_LEDGER_SANDBOX_DAYS": "10"})
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "ui", "--sandbox", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**env, "DAGSTER_HOME": str(tmp_path / "dagster_home")},
        cwd=tmp_path,  # data/sandbox/bank lands here, not in the project
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        line = ""
        while not line.startswith("Dagster UI:"):
            line = proc.stdout.readline()
            assert line, "ui --sandbox ended before it said where it serves"
        [sandbox] = re.findall(r"Mollie sandbox at (\S+);", line)
        auth = {"Authorization": f"Bearer {DEFAULT_ACCESS_TOKEN}"}
        assert httpx.get(f"{sandbox}/balances", headers=auth).status_code == 200
        assert list((tmp_path / "data" / "sandbox" / "bank").glob("*.xml")), "its CAMT.053"
        wait_until_ui_answers(proc, url)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"{sandbox}/balances", headers=auth, timeout=2)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        proc.stdout.close()
