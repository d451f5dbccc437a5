"""Dagster's run and event storage on PostgreSQL, for real: the test starts its own PostgreSQL
server (Debian's `postgresql` binaries) on a free port on 127.0.0.1, gives Dagster the project's
dagster.yaml with its documented PostgreSQL block switched on, runs the daily job through
`mollie-ledger run` (one organization) and through Dagster's daemon firing the schedule (three
organizations, one partition each), and reads the runs and their events back from PostgreSQL's
tables."""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import psycopg2
import psycopg2.errors
import pytest
from dagster import DagsterEventType as Event
from deployment_helpers import PII_KEY, clean_env, run_cli, serve_sandbox
from ui_process import stop_group

from sandbox.demo import sandbox_organizations
from sandbox.frappe import FrappeTestServer

REPO = Path(__file__).resolve().parents[3]
DAGSTER_DAEMON = str(Path(sys.executable).with_name("dagster-daemon"))
PG_BINS = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
IS_ROOT = os.geteuid() == 0


def _postgres_user_exists() -> bool:
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return False
    return True


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not PG_BINS, reason="no PostgreSQL server binaries: install Debian's `postgresql`"
    ),
    pytest.mark.skipif(
        IS_ROOT and not _postgres_user_exists(),
        reason="PostgreSQL refuses to run as root and there is no `postgres` user to run it as",
    ),
]


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    db: str
    user: str
    password: str

    def env(self) -> dict[str, str]:
        """The variables the project's dagster.yaml block reads."""
        return {
            "DAGSTER_PG_HOST": self.host,
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_DB": self.db,
            "DAGSTER_PG_USERNAME": self.user,
            "DAGSTER_PG_PASSWORD": self.password,
        }

    def connect(self, db: str | None = None):
        return psycopg2.connect(
            host=self.host,
            port=self.port,
            dbname=db or self.db,
            user=self.user,
            password=self.password,
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_server_user(command: list[str]) -> list[str]:
    # PostgreSQL will not run as root; as anyone else it runs as that user.
    return ["runuser", "-u", "postgres", "--", *command] if IS_ROOT else command


@pytest.fixture
def postgres() -> Iterator[PostgresServer]:
    bin_dir = Path(PG_BINS[-1])
    # Not under pytest's tmp_path: the server's user must be able to reach its folder.
    folder = Path(tempfile.mkdtemp(prefix="mollie-ledger-pg-"))
    data, password = folder / "data", secrets.token_hex(16)
    pwfile = folder / "pwfile"
    pwfile.write_text(password + "\n")
    if IS_ROOT:
        shutil.chown(folder, "postgres")
        shutil.chown(pwfile, "postgres")
    server = PostgresServer("127.0.0.1", _free_port(), "dagster", "dagster", password)
    initdb = [str(bin_dir / "initdb"), "-D", str(data), "-U", server.user, "-E", "UTF8"]
    subprocess.run(
        _as_server_user([*initdb, f"--pwfile={pwfile}", "--auth=scram-sha-256", "--no-sync"]),
        check=True,
        capture_output=True,
    )
    options = (
        f"-c listen_addresses={server.host} -p {server.port} "
        f"-c unix_socket_directories={folder} -c fsync=off"
    )
    pg_ctl = [str(bin_dir / "pg_ctl"), "-D", str(data), "-w"]
    subprocess.run(
        _as_server_user([*pg_ctl, "-o", options, "-l", str(folder / "log"), "start"]),
        check=True,
        capture_output=True,
    )
    try:
        admin = server.connect("postgres")
        admin.autocommit = True  # CREATE DATABASE runs outside a transaction
        admin.cursor().execute(f"create database {server.db}")
        admin.close()
        yield server
    finally:
        subprocess.run(_as_server_user([*pg_ctl, "-m", "fast", "stop"]), capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def postgres_dagster_yaml() -> str:
    """The project's dagster.yaml with its commented PostgreSQL `storage:` block switched on."""
    lines = (REPO / "dagster.yaml").read_text().splitlines()
    start = lines.index("# storage:")
    block = [lines[start]]
    for line in lines[start + 1 :]:
        if not line.startswith("#   "):
            break
        block.append(line)
    uncommented = [line.removeprefix("# ") for line in block]
    return "\n".join(lines + uncommented) + "\n"


def test_the_daily_job_keeps_its_run_and_events_in_postgresql(tmp_path, cli_env, postgres):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(postgres_dagster_yaml())
    with serve_sandbox(now="2026-10-25T00:00:00Z") as sandbox:
        env = cli_env(tmp_path, sandbox, DAGSTER_HOME=str(home), **postgres.env())
        result = run_cli(env, "run")
    assert result.returncode == 0, result.stdout + result.stderr[-4000:]

    with postgres.connect() as con, con.cursor() as cur:
        cur.execute("select run_id, pipeline_name, status from runs")
        [(run_id, job, status)] = cur.fetchall()
        cur.execute(
            "select dagster_event_type, count(*) from event_logs where run_id = %s group by 1",
            [run_id],
        )
        events = dict(cur.fetchall())
        cur.execute(
            "select distinct asset_key from event_logs "
            "where run_id = %s and dagster_event_type = %s",
            [run_id, Event.ASSET_MATERIALIZATION.value],
        )
        materialized = {row[0] for row in cur.fetchall()}
    assert (job, status) == ("daily_ledger", "SUCCESS")
    assert events[Event.RUN_START.value] == 1 and events[Event.RUN_SUCCESS.value] == 1
    assert events[Event.STEP_SUCCESS.value] >= 30 and Event.STEP_FAILURE.value not in events
    assert events[Event.ASSET_CHECK_EVALUATION.value] >= 30  # the quality gates
    assert '["export", "published_warehouse"]' in materialized
    assert '["marts", "journal_entries"]' in materialized
    # Nothing went to the SQLite default beside it.
    assert not list(home.rglob("*.db")), sorted(p.name for p in home.rglob("*"))


@pytest.mark.timeout(1500)
def test_the_schedule_runs_each_organization_on_its_own_with_postgresql(tmp_path, postgres) -> None:
    """Dagster's own daemon fires the daily schedule (at a minute soon) for three organizations
    listed in MOLLIE_LEDGER_ORGANIZATIONS, with run and event storage on PostgreSQL. One
    organization's token is revoked: its partition's run fails with its own message, the other
    two load into their own warehouses and post into their own companies, at the same time."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(postgres_dagster_yaml())
    tick = datetime.now(UTC) + timedelta(minutes=2)
    env = clean_env(
        MOLLIE_LEDGER_SANDBOX_PAYMENTS="300",
        MOLLIE_LEDGER_SANDBOX_DAYS="30",
        MOLLIE_LEDGER_PII_KEY=PII_KEY,
        # One tick, two minutes from now (the daemon starts in well under that): a schedule
        # firing every minute would keep adding runs while the first ones work.
        MOLLIE_LEDGER_SCHEDULE_CRON=f"{tick.minute} {tick.hour} * * *",
        MOLLIE_LEDGER_SCHEDULE_TZ="UTC",
        DAGSTER_HOME=str(home),
        **postgres.env(),
    )
    with (
        sandbox_organizations(tmp_path / "orgs", 3, env=env) as (server, orgs),
        FrappeTestServer(orgs.chart(), company=orgs.organizations[0].company) as frappe,
    ):
        env.update(
            FRAPPE_URL=frappe.url,
            FRAPPE_API_KEY=frappe.api_key,
            FRAPPE_API_SECRET=frappe.api_secret,
        )
        healthy, revoked = orgs.organizations[:2], orgs.organizations[2]
        env[revoked.token_env] = "access_revoked0000000000000000000000"
        runs = _scheduled_runs(env, postgres, len(orgs.organizations), cwd=tmp_path)
        worlds = {o.name: server.worlds[o.token] for o in orgs.organizations}
        entries = list(frappe.journal_entries.values())

    by_partition = {run.tags["dagster/partition"]: run for run in runs}
    assert set(by_partition) == set(orgs.names)
    for org in healthy:
        assert by_partition[org.name].status == "SUCCESS", org.name
        with duckdb.connect(str(org.folder / "mollie_ledger.duckdb"), read_only=True) as con:
            (org_id,) = con.execute("select id from mollie.organizations").fetchone()
            posted = con.execute(
                "select count(*) from export.outbox_current where status = 'posted'"
            ).fetchone()[0]
        assert org_id == worlds[org.name].organization.id
        assert posted > 0
        assert posted == sum(e["company"] == org.company for e in entries)
    # Separate processes at the same time: the two healthy organizations' runs overlapped.
    first, second = (by_partition[o.name] for o in healthy)
    assert first.started < second.ended and second.started < first.ended
    assert not any(e["company"] == revoked.company for e in entries)
    run_id = by_partition[revoked.name].run_id
    assert by_partition[revoked.name].status == "FAILURE"
    assert not (revoked.folder / "mollie_ledger.published.duckdb").exists()
    with postgres.connect() as con, con.cursor() as cur:
        cur.execute(
            "select event from event_logs where run_id = %s and dagster_event_type = %s",
            [run_id, Event.STEP_FAILURE.value],
        )
        failures = " ".join(row[0] for row in cur.fetchall())
    assert f"organization {revoked.name} (token {revoked.token_env})" in failures
    assert "401" in failures


@dataclass(frozen=True)
class ScheduledRun:
    run_id: str
    status: str
    tags: dict[str, str]
    started: float | None
    ended: float | None


def _scheduled_runs(
    env: dict[str, str], postgres: PostgresServer, count: int, cwd: Path
) -> list[ScheduledRun]:
    """Start Dagster's daemon on the project's definitions and wait until the schedule's tick
    has launched `count` runs and every one has finished."""
    daemon = subprocess.Popen(
        [DAGSTER_DAEMON, "run", "-m", "orchestration.definitions"],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its code server and run workers stop with it
    )
    deadline = time.monotonic() + 900
    try:
        while True:
            assert daemon.poll() is None, "the Dagster daemon stopped"
            runs = _schedule_runs_in(postgres)
            done = [r for r in runs if r.status in ("SUCCESS", "FAILURE", "CANCELED")]
            if len(runs) >= count and len(done) == len(runs):
                return runs
            assert time.monotonic() < deadline, f"runs so far: {runs}"
            time.sleep(5)
    finally:
        stop_group(daemon)


def _schedule_runs_in(postgres: PostgresServer) -> list[ScheduledRun]:
    try:
        with postgres.connect() as con, con.cursor() as cur:
            cur.execute("select run_id, status, start_time, end_time from runs")
            runs = cur.fetchall()
            cur.execute("select run_id, key, value from run_tags")
            tags: dict[str, dict[str, str]] = {}
            for run_id, key, value in cur.fetchall():
                tags.setdefault(run_id, {})[key] = value
    except psycopg2.errors.UndefinedTable:  # the daemon has not created its tables yet
        return []
    return [
        ScheduledRun(run_id, status, tags.get(run_id, {}), started, ended)
        for run_id, status, started, ended in runs
        if tags.get(run_id, {}).get("dagster/schedule_name") == "daily_ledger_schedule"
    ]
