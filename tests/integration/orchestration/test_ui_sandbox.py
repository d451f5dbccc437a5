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
from ui_process import free_port, stop_group, wait_until_ui_answers

from sandbox.server import DEFAULT_ACCESS_TOKEN


def _start_ui(folder, *args: str) -> subprocess.Popen:
    """`mollie-ledger ui ARGS` in `folder` (data/sandbox lands there, not in the project), with
    a small sandbox world and none of this machine's Mollie or Dagster settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DAGSTER_", "MOLLIE_", "SOURCES__MOLLIE"))
    }
    env.update({"MOLLIE_LEDGER_SANDBOX_PAYMENTS": "100", "MOLLIE_LEDGER_SANDBOX_DAYS": "10"})
    return subprocess.Popen(
        [sys.executable, "-m", "cli.main", "ui", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**env, "DAGSTER_HOME": str(folder / "dagster_home")},
        cwd=folder,
        start_new_session=True,
    )


@pytest.mark.slow
def test_ui_with_the_sandbox_serves_both_and_stops_both(tmp_path):
    port = free_port()
    proc = _start_ui(tmp_path, "--sandbox", "--port", str(port))
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


@pytest.mark.slow
def test_ui_with_sandbox_organizations_shows_one_partition_each(tmp_path):
    """`ui --sandbox --organizations 3`: the UI's asset graph is partitioned by organization."""
    port = free_port()
    proc = _start_ui(tmp_path, "--sandbox", "--organizations", "3", "--port", str(port))
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ui_answers(proc, url)
        query = (
            '{ assetNodes(assetKeys: [{path: ["marts", "journal_entries"]}]) { partitionKeys } }'
        )
        answer = httpx.post(f"{url}/graphql", json={"query": query}, timeout=60).json()
        [node] = answer["data"]["assetNodes"]
        assert node["partitionKeys"] == ["groene-vork", "blauwe-reiger", "rode-kaart"]
        for name in node["partitionKeys"]:
            assert list((tmp_path / "data" / "sandbox" / "orgs" / name / "bank").glob("*.xml"))
    finally:
        stop_group(proc)
        proc.stdout.close()
