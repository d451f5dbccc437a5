"""Starting `mollie-ledger ui` (or another Dagster process) in a test: a free port, waiting until
the Dagster UI answers, and stopping the whole process group afterwards."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time

import httpx

STARTUP_SECONDS = 180  # loading the definitions in a code server takes ~40 s on a small machine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_ui_answers(proc: subprocess.Popen, url: str) -> None:
    """Poll /server_info until the UI answers 200; fail if the process ends or time runs out."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        assert proc.poll() is None, proc.stdout.read()
        try:
            if httpx.get(f"{url}/server_info", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "the UI never answered"
        time.sleep(1)


def stop_group(proc: subprocess.Popen, grace: float = 60) -> None:
    """SIGTERM the process group `proc` leads (started with start_new_session=True), then
    SIGKILL what is left after `grace` seconds: no Dagster child outlives the test."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
