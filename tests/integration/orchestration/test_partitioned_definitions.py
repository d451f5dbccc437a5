"""The Dagster definitions with and without an organizations list, loaded as the UI and the
daemon load them (a fresh process reading MOLLIE_LEDGER_ORGANIZATIONS at import)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]

PROBE = textwrap.dedent(
    """
    import datetime, json
    import dagster as dg
    from orchestration.definitions import defs

    job = defs.resolve_job_def("daily_ledger")
    schedule = defs.resolve_schedule_def("daily_ledger_schedule")
    tick = schedule.evaluate_tick(
        dg.build_schedule_context(
            scheduled_execution_time=datetime.datetime(2026, 12, 7, 6),
            repository_def=defs.get_repository_def(),
        )
    )
    graph = defs.resolve_asset_graph()
    pools = {n.pool for n in job.graph.node_defs}
    print(json.dumps({
        "partitions": job.partitions_def.get_partition_keys() if job.partitions_def else None,
        "requests": [
            {"partition": r.partition_key, "run_key": r.run_key, "tags": r.tags}
            for r in tick.run_requests
        ],
        "sensors": sorted(s.name for s in defs.sensors),
        "pools": sorted(p or "" for p in pools),
        "unpartitioned": sorted(
            k.to_user_string() for k in graph.get_all_asset_keys()
            if graph.get(k).partitions_def is None
        ),
    }))
    """
)


def _python(code: str, folder: Path, organizations: str | None) -> subprocess.CompletedProcess:
    """`code` in a fresh interpreter in `folder`, with `organizations` as the listed file (or no
    list at all)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOLLIE_LEDGER_ORG")}
    if organizations is not None:
        listing = folder / "organizations.toml"
        listing.write_text(organizations)
        env["MOLLIE_LEDGER_ORGANIZATIONS"] = str(listing)
    return subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _load(tmp_path: Path, organizations: str | None) -> dict:
    done = _python(PROBE, tmp_path, organizations)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_without_a_list_nothing_is_partitioned(tmp_path) -> None:
    loaded = _load(tmp_path, None)
    assert loaded["partitions"] is None
    assert [r["partition"] for r in loaded["requests"]] == [None]
    assert "mollie_webhook_sensor" in loaded["sensors"]
    assert loaded["pools"] == ["duckdb"]  # every warehouse step takes turns in one pool


def test_with_a_list_each_organization_is_a_partition_and_the_schedule_runs_each(
    tmp_path,
) -> None:
    listing = "".join(
        f'[organizations.{name}]\ntoken_env = "MOLLIE_TOKEN_{name.upper()}"\n'
        f'ledger_config = "{REPO / "config" / "ledger.toml"}"\n'
        for name in ("north", "south", "west")
    )
    loaded = _load(tmp_path, listing)
    assert loaded["partitions"] == ["north", "south", "west"]
    assert loaded["unpartitioned"] == []
    requests = loaded["requests"]
    assert [r["partition"] for r in requests] == ["north", "south", "west"]
    assert len({r["run_key"] for r in requests}) == 3  # three runs, each fails on its own
    assert [r["tags"]["mollie_ledger/organization"] for r in requests] == [
        "north",
        "south",
        "west",
    ]
    assert "mollie_webhook_sensor" not in loaded["sensors"]
    assert loaded["pools"] == [""]  # one run per organization at a time instead (dagster.yaml)


def test_a_broken_list_stops_the_definitions_with_the_fix(tmp_path) -> None:
    broken = '[organizations.North]\ntoken_env = "X"\nledger_config = "l.toml"\n'
    done = _python("import orchestration.definitions", tmp_path, broken)
    assert done.returncode != 0
    assert "organizations.North" in done.stderr and "lowercase" in done.stderr
