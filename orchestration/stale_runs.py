"""Release what a `mollie-ledger run` killed mid-step left claimed, so the next run can start.

Every step that touches the warehouse runs in pool "duckdb", which dagster.yaml limits to one
slot; a step claims it and frees it when it ends. A run whose process dies (kill -9, the OOM
killer, a reboot) never frees it, and with a persistent DAGSTER_HOME (as `mollie-ledger ui` sets
up) every later run then waits for that slot, silently and for ever. Dagster's daemon recovers
the runs it launched itself (run monitoring); the runs `mollie-ledger run` executes in its own
process are recovered here: before a run starts, every run this host started that way whose
process is gone is marked failed and its slots are freed.
"""

from __future__ import annotations

import logging
import os
import socket

import dagster as dg

log = logging.getLogger("mollie_ledger.runner")

HOST_TAG = "mollie_ledger/host"
PID_TAG = "mollie_ledger/pid"
_UNFINISHED = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]


def run_tags() -> dict[str, str]:
    """Tags that say which process on which host executes a run."""
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}


def release_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark failed, and free the pool slots of, this host's runs whose process is gone."""
    released = []
    runs = instance.get_runs(
        filters=dg.RunsFilter(statuses=_UNFINISHED, tags={HOST_TAG: socket.gethostname()})
    )
    for run in runs:
        pid = run.tags.get(PID_TAG, "")
        if not pid.isdigit() or _alive(int(pid)):
            continue
        instance.report_run_failed(
            run, message=f"the process that executed this run (pid {pid}) is gone"
        )
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        log.warning(
            "run %s died with its process (pid %s): marked failed, its DuckDB pool slot freed",
            run.run_id,
            pid,
        )
        released.append(run.run_id)
    return released


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True
