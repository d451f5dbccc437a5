"""The extract layer as users run it: Dagster's `materialize` and the `mollie-ledger extract` CLI,
both configured only through the environment, against a sandbox over HTTP.
"""

from __future__ import annotations

import os

import dagster as dg
import pytest
from click.testing import CliRunner
from conftest import sandbox_config, warehouse

from cli.main import main
from extract.endpoint import MissingTokenError, mollie_settings
from extract.records import TABLES
from orchestration.extract_assets import extract_assets, resources
from sandbox.demo import sandbox_environment
from sandbox.server import DEFAULT_ACCESS_TOKEN, SandboxServer


@pytest.fixture(scope="module")
def server():
    with SandboxServer(sandbox_config(seed=7, payments=400, days=30)) as s:
        yield s


@pytest.fixture
def env(monkeypatch, server, tmp_path):
    """The environment a deployment sets: where Mollie is, the token, the warehouse."""
    db = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv("MOLLIE_API_BASE_URL", server.base_url)
    monkeypatch.setenv("MOLLIE_ACCESS_TOKEN", DEFAULT_ACCESS_TOKEN)
    monkeypatch.setenv("MOLLIE_RATE_PER_SECOND", "0")
    monkeypatch.setenv("MOLLIE_LEDGER_DB", str(db))
    return db


def test_assets_are_named_by_table_in_group_extract() -> None:
    keys = {spec.key for spec in extract_assets.specs}
    assert keys == {dg.AssetKey(["mollie", name]) for name in TABLES}
    for spec in extract_assets.specs:
        assert spec.group_name == "extract"
        assert spec.kinds == {"dlt", "duckdb"}
        assert list(spec.deps) == []
        assert spec.description == TABLES[spec.key.path[1]].grain
    assert extract_assets.op.pool == "duckdb"


def _row_counts(result: dg.ExecuteInProcessResult) -> dict[str, int]:
    return {
        event.asset_key.path[1]: event.materialization.metadata["dagster/row_count"].value
        for event in result.get_asset_materialization_events()
    }


def test_materialize_loads_and_records_row_counts(env, server) -> None:
    result = dg.materialize([extract_assets], resources=resources)
    assert result.success
    counts = _row_counts(result)
    assert set(counts) == set(TABLES)
    for event in result.get_asset_materialization_events():
        assert event.materialization.metadata["quarantined"].value == 0
    world = server.world
    assert counts["payments"] == len(world.payments)
    assert counts["balance_transactions"] == len(world.transactions)
    with warehouse(env) as con:
        settlements = con.execute("SELECT count(*) FROM mollie.settlements").fetchone()[0]
    assert counts["settlements"] == settlements == len(world.settlements)
    # Again, with nothing new: still a success, and the counts are the tables' (not the run's).
    again = dg.materialize([extract_assets], resources=resources)
    assert again.success
    assert _row_counts(again) == counts


def test_a_run_tagged_sweep_rereads_the_look_back_window(env, server) -> None:
    payments = dg.AssetKey(["mollie", "payments"])
    assert dg.materialize([extract_assets], resources=resources).success

    def listed_payments(**kwargs) -> int:
        before = server.request_count["/v2/payments"]
        result = dg.materialize(
            [extract_assets], resources=resources, selection=[payments], **kwargs
        )
        assert result.success
        return server.request_count["/v2/payments"] - before

    profiles = len(server.world.profiles)
    assert listed_payments() == profiles  # nothing new, no sweep due: the first page only
    swept = listed_payments(tags={"mollie_ledger/sweep": "true"})  # as webhook runs are tagged
    assert swept > profiles
    assert swept == sum(-(-n // 250) for n in _payments_per_profile(server.world).values())


def _payments_per_profile(world) -> dict[str, int]:
    counts: dict[str, int] = {}
    for p in world.payments:
        counts[p.profile_id] = counts.get(p.profile_id, 0) + 1
    return counts


def test_materialize_a_subset(env, server) -> None:
    result = dg.materialize(
        [extract_assets], resources=resources, selection=[dg.AssetKey(["mollie", "invoices"])]
    )
    assert result.success
    events = result.get_asset_materialization_events()
    assert [e.asset_key.path for e in events] == [["mollie", "invoices"]]
    assert events[0].materialization.metadata["dagster/row_count"].value == len(
        server.world.invoices
    )


def test_cli_extract_prints_rows_per_table(env, server) -> None:
    result = CliRunner().invoke(main, ["extract", "--resources", "balances,payments"])
    assert result.exit_code == 0, result.output
    lines = dict(line.split() for line in result.output.splitlines() if line.startswith("  "))
    assert lines == {
        "table": "rows",
        "balances": str(len(server.world.balances)),
        "payments": str(len(server.world.payments)),
    }
    assert "Quarantined 0 records." in result.output
    assert env.exists()
    # The token reaches neither the output nor any file of the warehouse or dlt's working folder.
    assert DEFAULT_ACCESS_TOKEN not in result.output
    files = [f for f in env.parent.rglob("*") if f.is_file()]
    assert files and not [f for f in files if DEFAULT_ACCESS_TOKEN.encode() in f.read_bytes()]


def test_cli_extract_sweep_rereads_the_look_back_window(env, server) -> None:
    def run(*flags: str) -> tuple[str, int]:
        before = server.request_count["/v2/payments"]
        result = CliRunner().invoke(main, ["extract", "--resources", "payments", *flags])
        assert result.exit_code == 0, result.output
        return result.output, server.request_count["/v2/payments"] - before

    _, first = run()
    output, again = run()
    assert "payments" in output
    assert again == len(server.world.profiles) < first  # nothing new: one page per profile
    _, swept = run("--sweep")
    assert swept == first  # the whole (short) world is inside the 60-day window


def test_cli_extract_with_a_bad_token_exits_with_the_message(env, monkeypatch) -> None:
    token = "access_ThisTokenIsWrong000000000"
    monkeypatch.setenv("MOLLIE_ACCESS_TOKEN", token)
    result = CliRunner().invoke(main, ["extract", "--resources", "payments"])
    assert result.exit_code == 1
    assert "rejected the credential" in result.output
    assert "Traceback" not in result.output and token not in result.output


def test_cli_extract_refuses_unknown_resources(env) -> None:
    result = CliRunner().invoke(main, ["extract", "--resources", "payments,nope"])
    assert result.exit_code == 2
    assert "unknown resource(s) nope" in result.output


def test_without_a_token_nothing_runs_and_the_message_says_what_to_set(
    monkeypatch, tmp_path
) -> None:
    for name in ("MOLLIE_ACCESS_TOKEN", "SOURCES__MOLLIE__ACCESS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MOLLIE_LEDGER_DB", str(tmp_path / "w.duckdb"))
    with pytest.raises(MissingTokenError) as missing:
        mollie_settings({"MOLLIE_API_BASE_URL": "https://example.invalid/v2"})
    message = str(missing.value)
    assert "MOLLIE_ACCESS_TOKEN" in message and "mollie-ledger demo" in message
    assert "make ui" in message

    result = dg.materialize([extract_assets], resources=resources, raise_on_error=False)
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert "set MOLLIE_ACCESS_TOKEN" in failure.step_failure_data.error.message
    assert not any(e.is_step_up_for_retry for e in result.all_events)  # a retry cannot fix it
    assert not (tmp_path / "w.duckdb").exists()  # stopped before the warehouse was touched

    cli = CliRunner().invoke(main, ["extract", "--db", str(tmp_path / "w.duckdb")])
    assert cli.exit_code == 1 and "set MOLLIE_ACCESS_TOKEN" in cli.output
    with sandbox_environment(tmp_path / "bank", sandbox_config(payments=50, days=5)) as server:
        settings = mollie_settings()
        assert settings.base_url == server.base_url and settings.token == server.access_token
        assert settings.rate_per_second == 0  # a local sandbox is not throttled
        assert list((tmp_path / "bank").glob("*.xml")), "the sandbox's CAMT.053 in its folder"
    assert "MOLLIE_ACCESS_TOKEN" not in os.environ  # put back as it was
    real = mollie_settings({"MOLLIE_ACCESS_TOKEN": "access_x"})
    assert real.base_url == "https://api.mollie.com/v2" and real.rate_per_second == 10
