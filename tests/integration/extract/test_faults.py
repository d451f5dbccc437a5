"""Faults (docs/design.md, Extraction and Principles 4 and 5): a flaky API still gives the exact
load; a bad credential stops the run at once with the fix in the message; a run killed at any point
is repaired by re-running.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import duplicate_keys, extract_into, metrics, sandbox_config, settings_for
from dlt.pipeline.exceptions import PipelineStepFailed
from sandbox_truth import diff, expected

from extract.client import MollieClient
from extract.errors import MollieAuthError, MolliePermissionError
from extract.pipeline import mollie_error
from extract.settings import ClientSettings
from sandbox.server import DEFAULT_ACCESS_TOKEN, FaultConfig, SandboxServer

REPO = Path(__file__).resolve().parents[3]


class ShortSleeps:
    """Records every wait the client asks for, and waits only a moment.

    The waits (Retry-After, backoff) are the resilience layer's decisions and are asserted;
    shortening them keeps the test fast without changing which requests are retried.
    """

    def __init__(self) -> None:
        self.waits: list[float] = []
        self._lock = threading.Lock()

    def __call__(self, seconds: float) -> None:
        with self._lock:
            self.waits.append(seconds)
        time.sleep(min(seconds, 0.005))


def test_flaky_api_still_gives_the_exact_load(tmp_path) -> None:
    faults = FaultConfig(
        rate_limit_share=0.03,
        server_error_share=0.03,
        drop_share=0.03,
        retry_after_seconds=2,
        seed=5,
    )
    sleeps = ShortSleeps()
    clients: list[MollieClient] = []

    def client_factory(settings: ClientSettings) -> MollieClient:
        clients.append(MollieClient(settings, sleep=sleeps))
        return clients[-1]

    with SandboxServer(sandbox_config(seed=7), faults=faults) as server:
        result = extract_into(tmp_path / "w.duckdb", server, client_factory=client_factory)
        world = server.world
    # The same warehouse a clean load gives (test_full_load: a clean load equals the world).
    assert diff(metrics(tmp_path / "w.duckdb", world), expected(world)) == {}
    assert duplicate_keys(tmp_path / "w.duckdb") == {}
    assert result.quarantined == {}
    (client,) = clients
    counters = client.counters.snapshot()
    assert counters["rate_limited"] > 0
    assert counters["server_errors"] > 0
    assert counters["connection_errors"] > 0
    assert counters["circuit_opened"] == 0
    assert 2.0 in sleeps.waits  # Retry-After honoured exactly
    assert counters["retries"] == len(sleeps.waits)


def _failure(db: Path, server: SandboxServer, token: str, **kwargs) -> tuple[Exception, float]:
    started = time.monotonic()
    with pytest.raises(PipelineStepFailed) as info:
        extract_into(db, server, settings=settings_for(server, token=token), **kwargs)
    return info.value, time.monotonic() - started


def test_wrong_token_ends_fast_with_the_auth_message(tmp_path) -> None:
    token = "access_NotTheRightToken0000000000"
    with SandboxServer(sandbox_config(seed=7, payments=100, days=10)) as server:
        failure, seconds = _failure(tmp_path / "w.duckdb", server, token)
        requests = sum(server.request_count.values())
    error = mollie_error(failure)
    assert isinstance(error, MollieAuthError)
    assert "rejected the credential" in str(error) and "MOLLIE_ACCESS_TOKEN" in str(error)
    assert token not in str(error) and token not in str(failure)
    assert seconds < 10
    assert requests == 1  # a 401 is never retried, and ends the run


def test_profile_key_on_balances_asks_for_an_organization_token(tmp_path) -> None:
    with SandboxServer(sandbox_config(seed=7, payments=100, days=10)) as server:
        key = next(iter(server.profile_keys.values()))
        failure, _ = _failure(tmp_path / "w.duckdb", server, key, resources=["balances"])
        requests = sum(server.request_count.values())
    error = mollie_error(failure)
    assert isinstance(error, MolliePermissionError)
    assert "organization access token" in str(error) and "live_" in str(error)
    assert key not in str(error)
    assert requests == 0  # refused before anything is sent


def _crash_after(n: int) -> Callable[[ClientSettings], MollieClient]:
    """A client whose process 'dies' (an exception no one handles) on its n-th request."""

    class Crashing(MollieClient):
        calls = 0

        def get(self, *args, **kwargs):
            Crashing.calls += 1
            if Crashing.calls == n:
                raise RuntimeError("simulated crash")
            return super().get(*args, **kwargs)

        def iter_pages(self, *args, **kwargs):
            for page in super().iter_pages(*args, **kwargs):
                Crashing.calls += 1
                if Crashing.calls == n:
                    raise RuntimeError("simulated crash")
                yield page

    return Crashing


@pytest.mark.parametrize("after_requests", [40, 300])
def test_run_that_crashes_then_rerun_equals_a_clean_run(tmp_path, after_requests) -> None:
    db = tmp_path / "w.duckdb"
    with SandboxServer(sandbox_config(seed=7)) as server:
        with pytest.raises(PipelineStepFailed, match="simulated crash"):
            extract_into(db, server, client_factory=_crash_after(after_requests))
        extract_into(db, server)
        world = server.world
    assert diff(metrics(db, world), expected(world)) == {}
    assert duplicate_keys(db) == {}


def _requests_at_least(n: int) -> Callable[[SandboxServer, Path], bool]:
    return lambda server, _db: sum(server.request_count.values()) >= n


def _loading(server: SandboxServer, db: Path) -> bool:
    """A normalized load package exists: the run is past extraction, loading into DuckDB."""
    normalized = db.parent / ".dlt" / "pipelines" / "mollie_ledger" / "load" / "normalized"
    return normalized.is_dir() and any(normalized.iterdir())


@pytest.mark.parametrize(
    "moment",
    [_requests_at_least(250), _loading],
    ids=["while-extracting", "while-loading"],
)
def test_killed_process_then_rerun_equals_a_clean_run(tmp_path, moment) -> None:
    db = tmp_path / "w.duckdb"
    with SandboxServer(sandbox_config(seed=7)) as server:
        env = {
            **os.environ,
            "MOLLIE_API_BASE_URL": server.base_url,
            "MOLLIE_ACCESS_TOKEN": DEFAULT_ACCESS_TOKEN,
            "MOLLIE_RATE_PER_SECOND": "0",
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "extract", "--db", str(db)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        while not moment(server, db):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the extract never got there"
            time.sleep(0.001)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL
        extract_into(db, server)
        world = server.world
    assert diff(metrics(db, world), expected(world)) == {}
    assert duplicate_keys(db) == {}
