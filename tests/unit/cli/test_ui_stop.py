"""`mollie-ledger ui` stops its whole process tree: a fast stand-in for `dagster dev` (a shell
whose children ignore SIGTERM and SIGINT, as Dagster's daemon and code server may) under the same
supervisor the command uses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from cli.ui import _alive, descendants, supervise

# A parent that starts two children ignoring SIGINT and SIGTERM, writes their pids, then waits.
TREE = textwrap.dedent(
    """
    import os, signal, subprocess, sys, time
    stubborn = "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); " \\
        "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"
    kids = [subprocess.Popen([sys.executable, "-c", stubborn]) for _ in range(2)]
    open(sys.argv[1], "w").write(" ".join(str(k.pid) for k in kids))
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    time.sleep(600)
    """
)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_every_process_of_the_tree_within_the_grace(tmp_path, sig) -> None:
    pids_file = tmp_path / "pids"
    supervisor = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys; from cli.ui import supervise; "
            "child = subprocess.Popen([sys.executable, '-c', sys.argv[1], sys.argv[2]], "
            "start_new_session=True); sys.exit(supervise(child, grace=1.0))",
            TREE,
            str(pids_file),
        ],
        cwd=Path(__file__).resolve().parents[3],
    )
    try:
        deadline = time.monotonic() + 30
        while not (pids_file.exists() and pids_file.read_text().strip()):
            assert time.monotonic() < deadline and supervisor.poll() is None
            time.sleep(0.05)
        tree = descendants(supervisor.pid)
        kids = {int(p) for p in pids_file.read_text().split()}
        assert kids < tree and len(tree) == 3
        started = time.monotonic()
        supervisor.send_signal(sig)
        assert supervisor.wait(timeout=10) == 0
        assert time.monotonic() - started < 5
        deadline = time.monotonic() + 5
        while any(_alive(p) for p in tree) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [p for p in tree if _alive(p)]
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
        for pid in descendants(supervisor.pid):
            os.kill(pid, signal.SIGKILL)


def test_when_the_child_ends_by_itself_its_exit_code_is_returned(tmp_path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"], start_new_session=True)
    assert supervise(child, grace=1.0) == 3
