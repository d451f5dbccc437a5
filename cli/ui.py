"""`mollie-ledger ui`: the Dagster UI (`dagster dev`: webserver + daemon) on this project.

`mollie-ledger ui` runs `dagster dev` as a child in its own session and, on SIGTERM or SIGINT,
stops every process of it (webserver, daemon, code servers), so none outlives the command.

The instance lives in a persistent DAGSTER_HOME (default `.dagster_home/` in the project), so run
history, schedule and sensor state and asset health survive a restart; without one `dagster dev`
would use a temporary folder and forget everything on exit. The project's dagster.yaml is linked
into it, since Dagster reads its instance settings only from DAGSTER_HOME.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_HOME = PROJECT_ROOT / ".dagster_home"
INSTANCE_CONFIG = PROJECT_ROOT / "dagster.yaml"
ENV_WEBSERVER_URL = "DAGSTER_WEBSERVER_URL"  # also where alerts link to
GRACE_SECONDS = 5.0  # how long Dagster's processes get to end on SIGTERM before SIGKILL


def prepare_home(home: str | os.PathLike[str] | None = None) -> Path:
    """The DAGSTER_HOME to use (argument, else $DAGSTER_HOME, else .dagster_home/), created, with
    the project's dagster.yaml linked in (copied where links are not possible). A dagster.yaml
    already there is left alone: it may be a deployment's own (Postgres storage, say)."""
    folder = Path(home or os.environ.get("DAGSTER_HOME") or DEFAULT_HOME).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "dagster.yaml"
    if target.is_symlink() and not target.exists():
        target.unlink()  # a link left behind by a moved checkout
    if not target.exists():
        try:
            target.symlink_to(INSTANCE_CONFIG)
        except OSError:
            shutil.copyfile(INSTANCE_CONFIG, target)
    return folder


def dev_command(host: str, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "dagster",
        "dev",
        "-m",
        "orchestration.definitions",
        "--host",
        host,
        "--port",
        str(port),
    ]


def dev_environment(home: Path, url: str) -> dict[str, str]:
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    env.setdefault(ENV_WEBSERVER_URL, url)  # alerts sent by this daemon link to this UI
    return env


def run_dagster_dev(host: str, port: int, home: Path) -> int:
    """Run `dagster dev` until it ends or this process gets SIGTERM / SIGINT, then stop all of it.

    `dagster dev` starts a webserver, a daemon and code servers; on a signal of its own it may
    leave them running (and they ignore SIGINT for half a minute). So it runs in a session of its
    own, and a signal to this process stops that whole process group (see `stop_group`). It
    stays in the current folder: relative paths such as data/ mean what they mean for every
    other command.

    Returns:
        0 after a requested stop, else `dagster dev`'s own exit code.
    """
    url = f"http://{host}:{port}"
    child = subprocess.Popen(
        dev_command(host, port), env=dev_environment(home, url), start_new_session=True
    )
    return supervise(child)


def supervise(child: subprocess.Popen, grace: float = GRACE_SECONDS) -> int:
    """Wait for `child` (the leader of its own process group); on SIGTERM or SIGINT stop its
    whole group. Whatever `child` left behind is stopped too when it ends by itself."""
    requested: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        requested.append(signum)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not requested and child.poll() is None:
            try:
                child.wait(timeout=0.2)
            except subprocess.TimeoutExpired:
                pass
    finally:
        stop_group(child, grace)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0 if requested else child.returncode


def stop_group(child: subprocess.Popen, grace: float = GRACE_SECONDS) -> None:
    """SIGTERM every process of `child`'s group (and any descendant that left it), wait up to
    `grace` seconds for them to end, then SIGKILL what is left, and reap `child`."""
    members = group_members(child.pid) | descendants(child.pid)
    if child.poll() is None:
        members.add(child.pid)
    _signal(child.pid, members, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        child.poll()  # reap it, or it stays a zombie that looks alive
        members = {pid for pid in members if _alive(pid)}
        if not members:
            break
        time.sleep(0.1)
    else:
        _signal(child.pid, members, signal.SIGKILL)
    try:
        child.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass


def group_members(pgid: int) -> set[int]:
    """The live processes whose process group is `pgid` (from /proc; empty where there is none)."""
    table = _processes()
    return {pid for pid, (_, group, state) in table.items() if group == pgid and state != "Z"}


def descendants(pid: int) -> set[int]:
    """Every live process below `pid` (children, their children, …), from /proc."""
    table = _processes()
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {p for p, (ppid, _, state) in table.items() if ppid in frontier and state != "Z"}
        frontier -= found
        found |= frontier
    return found


def _processes() -> dict[int, tuple[int, int, str]]:
    """pid → (parent pid, process group, state) for every process in /proc."""
    table = {}
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else ():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # it ended while we looked
        # "pid (comm) state ppid pgrp …": comm may hold spaces and parentheses
        fields = stat[stat.rindex(")") + 2 :].split()
        table[int(entry.name)] = (int(fields[1]), int(fields[2]), fields[0])
    return table


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def _signal(pgid: int, pids: set[int], sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
