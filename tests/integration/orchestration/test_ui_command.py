"""`mollie-ledger ui` for real: Dagster's webserver and daemon on a free port, then SIGTERM, after
which none of Dagster's processes may remain."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from ui_process import free_port, wait_until_ui_answers


def _stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, state) of a process from /proc, None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[1]), fields[0]


def alive(pid: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[1] != "Z"  # a zombie has ended, only its entry remains


def descendants(pid: int) -> set[int]:
    """Every live process below `pid`, by a scan of /proc (independent of the code under test)."""
    parents = {
        int(p.name): stat[0]
        for p in Path("/proc").iterdir()
        if p.name.isdigit() and (stat := _stat(int(p.name))) and stat[1] != "Z"
    }
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


@pytest.mark.slow
def test_ui_serves_the_project_and_stops_on_sigterm(tmp_path):
    port = free_port()
    home = tmp_path / "dagster_home"
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_WEBSERVER_URL"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli.main",
            "ui",
            "--port",
            str(port),
            "--dagster-home",
            str(home),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=tmp_path,  # relative paths (data/…) land here, not in the project
        start_new_session=True,  # its own process group, so a hung run can be cleaned up
    )
    url = f"http://127.0.0.1:{port}"
    try:
        assert proc.stdout.readline().startswith(f"Dagster UI: {url}")
        wait_until_ui_answers(proc, url)
        assert (home / "dagster.yaml").exists()
        query = (
            "{ repositoriesOrError { ... on RepositoryConnection { nodes { "
            "schedules { name scheduleState { status } } sensors { name } } } } }"
        )
        data = httpx.post(f"{url}/graphql", json={"query": query}, timeout=30).json()["data"]
        [repo] = data["repositoriesOrError"]["nodes"]
        assert repo["schedules"] == [
            {"name": "daily_ledger_schedule", "scheduleState": {"status": "RUNNING"}}
        ]
        assert {"reconciliation_findings_alert", "run_failure_alert"} <= {
            s["name"] for s in repo["sensors"]
        }
        dagster = descendants(proc.pid)  # dagster dev, its webserver, daemon, code server(s)
        assert len(dagster) >= 3, dagster
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        deadline = time.monotonic() + 10
        while {p for p in dagster if alive(p)} and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not {p for p in dagster if alive(p)}, "Dagster processes outlived the command"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        proc.stdout.close()
    assert (home / "history").is_dir(), "the instance persisted in DAGSTER_HOME"
