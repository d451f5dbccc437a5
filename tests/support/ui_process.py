"""Starting `mollie-ledger ui` in a test: a free port, and waiting until the Dagster UI answers."""

from __future__ import annotations

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
