"""kill -9 at any point, then run again: the warehouse converges to the clean run's and Frappe holds
each journal entry exactly once (docs/design.md, Principles 4). The kills and the runs are those of
the session's deployment history (deployment_history.py): six kills at seeded points, in extract,
between load and load commit, in transforms, and between posting and recording, then a run to the
end."""

from __future__ import annotations

import signal
from collections import Counter

import dagster as dg
import duckdb
import pytest
from reliability_support import differences, fingerprint, lost_and_duplicated

pytestmark = pytest.mark.slow


def _recovery(history):
    (run,) = [r for r in history.together if r.returncode == 0]
    return run


def test_every_kill_landed_and_left_nothing_twice(history) -> None:
    assert len(history.kills) == 6
    for kill in history.kills:
        # The process did reach its crash point and died there.
        assert kill.returncode == -signal.SIGKILL, (kill.point, kill.nth, kill.stderr[-2000:])
        assert f"SIGKILL at {kill.point} #{kill.nth}" in kill.stderr
        # Even half-done: no raw row twice, no entry posted twice.
        assert kill.raw_duplicates == {}, kill
        assert kill.frappe_duplicates == [], kill


def test_the_run_after_the_kills_gives_the_clean_warehouse(
    history, clean_fingerprint, measured
) -> None:
    run = _recovery(history)
    got = fingerprint(history.deployment.db)
    assert differences(got, clean_fingerprint) == {}, run.stdout + run.stderr
    lost, duplicated = lost_and_duplicated(got, clean_fingerprint)
    points = ", ".join(f"{k.point} #{k.nth} ({k.command})" for k in history.kills)
    measured.record(
        "crashes",
        f"kill -9 ×{len(history.kills)}, then a run (seed {history.seed})",
        tried=len(history.kills),
        lost=lost,
        duplicated=duplicated,
        note=f"killed at {points}; warehouse = clean run (rows and sums, raw to marts)",
    )


def test_frappe_holds_each_entry_exactly_once(history, company_entries, measured) -> None:
    assert history.frappe_keys == Counter(dict.fromkeys(company_entries, 1))
    con = duckdb.connect(str(history.deployment.db), read_only=True)
    try:
        states = dict(
            con.execute("select posting_key, status from export.outbox_current").fetchall()
        )
    finally:
        con.close()
    posted = sorted(k for k, status in states.items() if status == "posted")
    assert posted == company_entries  # the outbox agrees with Frappe
    assert "failed" not in states.values() and "pending" not in states.values()
    measured.record(
        "crashes",
        "journal entries posted across the kills",
        tried=len(company_entries),
        lost=len(set(company_entries) - set(history.frappe_keys)),
        duplicated=sum(n - 1 for n in history.frappe_keys.values()),
        note="two kills between Frappe's answer and the outbox; reruns found them by key",
    )


def test_runs_killed_mid_step_do_not_hold_the_next_one(history, measured) -> None:
    # With the project's dagster.yaml, a step holds the DuckDB pool's one slot; a killed run
    # never gives it back, so the next run would wait for it for ever. Each run frees the slots
    # of the dead ones first (orchestration.stale_runs) and says so.
    killed_runs = sum(1 for k in history.kills if k.command == "run")
    with dg.DagsterInstance.from_config(str(history.deployment.root / "dagster_home")) as instance:
        claimed = instance.event_log_storage.get_concurrency_info("duckdb").claimed_slots
        statuses = Counter(run.status for run in instance.get_runs())
    assert claimed == []
    assert statuses == {
        dg.DagsterRunStatus.FAILURE: killed_runs,
        dg.DagsterRunStatus.SUCCESS: 1,
    }
    assert "died with its process" in _recovery(history).stderr
    measured.record(
        "crashes",
        "runs killed mid-step, DAGSTER_HOME with the project's dagster.yaml",
        tried=killed_runs,
        lost=0,
        duplicated=0,
        note="each killed run held the one-slot DuckDB pool; the next run marked it failed and "
        "freed the slot instead of waiting for ever; no slot left claimed",
    )
