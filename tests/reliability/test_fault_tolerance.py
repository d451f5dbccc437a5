"""A flaky Mollie, end to end: 429 with Retry-After, 10 % 5xx, dropped connections, slow pages and
truncated bodies, each alone and all together. After extract + bank statements + every model,
the warehouse equals the clean run's (rows and Decimal sums per table, raw to marts), no key is
loaded twice, and the run's log says how many retries it took (one line per retry, as many as
the client's counters).

Faults are deterministic from the seed, the request and its attempt number, and capped per
request (sandbox FaultConfig), so every request does get through within the client's retries.
The client's waits are recorded instead of slept: which requests are retried does not depend on
the clock, and the test stays fast.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import warehouse_builds
from reliability_support import (
    differences,
    duplicate_keys,
    fingerprint,
    lost_and_duplicated,
    settings_for,
    world,
)

from extract.client import MollieClient
from extract.pipeline import run_extract
from extract.settings import ClientSettings
from sandbox.bank import write_camt053
from sandbox.server import FaultConfig, SandboxServer

RETRY_AFTER = 2  # seconds the sandbox's 429s ask for
SLOW_SECONDS = 1.0  # a slow page, beyond the client timeout of the "slow" scenario
TIMEOUT = 0.6

SCENARIOS = {
    "rate-limited": FaultConfig(rate_limit_share=0.1, retry_after_seconds=RETRY_AFTER, seed=1),
    "server-errors": FaultConfig(server_error_share=0.1, seed=2),
    "dropped": FaultConfig(drop_share=0.05, seed=3),
    "slow": FaultConfig(slow_share=0.03, slow_seconds=SLOW_SECONDS, seed=4),
    "truncated": FaultConfig(truncate_share=0.05, seed=5),
    "all-together": FaultConfig(
        rate_limit_share=0.05,
        server_error_share=0.1,
        drop_share=0.03,
        slow_share=0.03,
        truncate_share=0.03,
        retry_after_seconds=RETRY_AFTER,
        slow_seconds=SLOW_SECONDS,
        seed=6,
    ),
}
# Which counter each scenario must have moved.
EXPECTED_COUNTERS = {
    "rate-limited": ("rate_limited",),
    "server-errors": ("server_errors",),
    "dropped": ("connection_errors",),
    "slow": ("connection_errors",),  # a page slower than the timeout: no answer in time
    "truncated": ("truncated_responses",),
    "all-together": ("rate_limited", "server_errors", "connection_errors", "truncated_responses"),
}


def _faulted_warehouse(folder: Path, faults: FaultConfig, waits: list[float]):
    clients: list[MollieClient] = []

    def client_factory(settings: ClientSettings) -> MollieClient:
        clients.append(MollieClient(settings, sleep=waits.append))
        return clients[-1]

    db = folder / "w.duckdb"
    with SandboxServer(world(), faults=faults) as server:
        # A 20 % failure rate would open the default breaker (5 failures in a row) now and then:
        # here the retries are under test, the breaker has its own tests.
        timeout = TIMEOUT if faults.slow_share else 30.0  # only slow pages should time out
        settings = settings_for(server, timeout=timeout, breaker_threshold=50)
        run_extract(db, settings=settings, client_factory=client_factory)
        write_camt053(server.world, folder / "bank")
    warehouse_builds.rebuild(db, bank=folder / "bank")
    (client,) = clients
    return db, client.counters.snapshot()


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_flaky_mollie_gives_the_clean_warehouse(
    name, tmp_path, clean_fingerprint, measured, caplog
) -> None:
    waits: list[float] = []
    with caplog.at_level(logging.WARNING, logger="extract.resilience"):
        db, counters = _faulted_warehouse(tmp_path, SCENARIOS[name], waits)
    got = fingerprint(db)

    assert differences(got, clean_fingerprint) == {}
    assert duplicate_keys(db) == {}
    for counter in EXPECTED_COUNTERS[name]:
        assert counters[counter] > 0, (counter, counters)
    assert counters["circuit_opened"] == 0
    # The run log has one line per retry, and says so: "…; retry 1 of 5 in 2.0s".
    retry_lines = [r for r in caplog.records if "; retry " in r.getMessage()]
    assert counters["retries"] == len(retry_lines) == len(waits) > 0
    if SCENARIOS[name].rate_limit_share:
        assert float(RETRY_AFTER) in waits  # Retry-After honoured exactly
    lost, duplicated = lost_and_duplicated(got, clean_fingerprint)
    failures = sum(
        counters[c]
        for c in ("rate_limited", "server_errors", "connection_errors", "truncated_responses")
    )
    measured.record(
        "faults",
        name,
        tried=counters["requests"],
        lost=lost,
        duplicated=duplicated,
        note=f"{failures} failed attempts, {counters['retries']} retries; warehouse = clean run",
    )
