"""`mollie-ledger` with a crash point armed: run as `python crashpoints.py run …`.

RELIABILITY_CRASH=<point>:<n> makes the process SIGKILL itself the n-th time it reaches <point>;
without it this is exactly `mollie-ledger`. A self-inflicted SIGKILL is kill -9 at a known
instruction: no `finally`, no `atexit`, no flush, and the seed of the test picks n, so a
failing case replays exactly (an external kill lands wherever the scheduler happens to be).

    extract      a Mollie request was answered, before its page is mapped
    load_commit  dlt loaded every file of a package into DuckDB, before it records the load
                 as complete (its `_dlt_loads` row) and archives the package
    transform    a model's table was rebuilt, before Dagster records the materialisation
    posted       Frappe accepted a journal entry, before the outbox records it as posted
"""

from __future__ import annotations

import functools
import os
import signal
import sys
import threading
from collections.abc import Callable

ENV_CRASH = "RELIABILITY_CRASH"


def _patch(owner: object, name: str, before: bool, hit: Callable[[], None]) -> None:
    original = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        if before:
            hit()
        result = original(*args, **kwargs)
        if not before:
            hit()
        return result

    setattr(owner, name, wrapper)


def arm(spec: str) -> None:
    point, _, nth = spec.partition(":")
    target = int(nth or 1)
    count = 0
    lock = threading.Lock()

    def hit() -> None:
        nonlocal count
        with lock:
            count += 1
            if count == target:
                sys.stderr.write(f"crashpoints: SIGKILL at {point} #{count}\n")
                sys.stderr.flush()
                os.kill(os.getpid(), signal.SIGKILL)

    if point == "extract":
        from extract.client import MollieClient

        _patch(MollieClient, "_attempt", False, hit)
    elif point == "load_commit":
        from dlt.load.load import Load

        _patch(Load, "complete_package", True, hit)
    elif point == "transform":
        # Patched before orchestration imports it by name.
        import transforms.build

        _patch(transforms.build, "build_model", False, hit)
    elif point == "posted":
        from export.posting import JournalPoster

        _patch(JournalPoster, "_insert", False, hit)
    else:
        raise SystemExit(f"unknown crash point {point!r}")


if __name__ == "__main__":
    if os.environ.get(ENV_CRASH):
        arm(os.environ[ENV_CRASH])
    from cli.main import main

    main(prog_name="mollie-ledger")
