"""`mollie-ledger ui`: the Dagster UI (`dagster dev`: webserver + daemon) on this project.

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
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_HOME = PROJECT_ROOT / ".dagster_home"
INSTANCE_CONFIG = PROJECT_ROOT / "dagster.yaml"
ENV_WEBSERVER_URL = "DAGSTER_WEBSERVER_URL"  # also where alerts link to


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


def exec_dagster_dev(host: str, port: int, home: Path) -> None:
    """Replace this process by `dagster dev` (so Ctrl-C and SIGTERM reach Dagster directly, which
    stops its webserver and daemon). It stays in the current folder: relative paths such as
    data/ mean what they mean for every other command."""
    url = f"http://{host}:{port}"
    os.execve(sys.executable, dev_command(host, port), dev_environment(home, url))


def run_dagster_dev(host: str, port: int, home: Path) -> int:
    """Run `dagster dev` as a child while this process keeps serving something it needs (the
    sandbox of `ui --sandbox`); SIGTERM and Ctrl-C are passed on to it, and its exit code is
    returned once it has stopped."""
    url = f"http://{host}:{port}"
    child = subprocess.Popen(dev_command(host, port), env=dev_environment(home, url))

    def forward(signum: int, _frame: object) -> None:
        child.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        return child.wait()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
