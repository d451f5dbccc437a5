"""Gate results decide whether a standalone export may run; settings from the environment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import duckdb
import pytest

from export.gates import GateRefusal, require_gates_passed
from export.settings import ExportConfigError, ExportSettings, FrappeSettings, company_currency
from quality.gate_results import GATE_TABLE, latest_results

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def record(con, check, passed, severity="ERROR", at=T0):
    con.execute(
        f"insert into {GATE_TABLE} values ('r', ?, 'marts/x', ?, ?, ?, ?)",
        [at, check, passed, severity, 0 if passed else 2],
    )


@pytest.fixture
def con():
    c = duckdb.connect()
    latest_results(c)  # creates the table
    return c


def test_empty_table_refuses_and_says_what_to_run(con):
    with pytest.raises(GateRefusal, match="run `mollie-ledger run` first"):
        require_gates_passed(con)


def test_latest_error_failure_refuses(con):
    record(con, "a", True)
    record(con, "b", False, at=T0)
    with pytest.raises(GateRefusal, match="marts/x b"):
        require_gates_passed(con)


def test_only_the_latest_result_of_a_check_counts(con):
    record(con, "b", False, at=T0)
    record(con, "b", True, at=T0 + timedelta(hours=1))
    assert [r.passed for r in require_gates_passed(con)] == [True]
    record(con, "b", False, at=T0 + timedelta(hours=2))
    with pytest.raises(GateRefusal):
        require_gates_passed(con)


def test_failed_warning_does_not_block(con):
    record(con, "w", False, severity="WARN")
    assert len(require_gates_passed(con)) == 1


def test_frappe_settings_from_env():
    assert FrappeSettings.from_env({}) is None
    s = FrappeSettings.from_env(
        {
            "FRAPPE_URL": "https://erp.example.org/",
            "FRAPPE_API_KEY": "k",
            "FRAPPE_API_SECRET": "very-secret",
        }
    )
    assert s.url == "https://erp.example.org" and "very-secret" not in repr(s)
    with pytest.raises(ExportConfigError, match="FRAPPE_API_SECRET"):
        FrappeSettings.from_env({"FRAPPE_URL": "https://erp.example.org", "FRAPPE_API_KEY": "k"})
    with pytest.raises(ExportConfigError, match="base URL"):
        FrappeSettings.from_env(
            {"FRAPPE_URL": "erp.example.org", "FRAPPE_API_KEY": "k", "FRAPPE_API_SECRET": "s"}
        )


def test_export_dir_and_company_currency(tmp_path):
    settings = ExportSettings.from_env({}, ledger_config=tmp_path / "missing.toml")
    assert str(settings.export_dir) == "data/exports"
    assert settings.company_currency == "EUR" and settings.frappe is None
    config = tmp_path / "ledger.toml"
    config.write_text('[books]\ncompany_currency = "gbp"\n', encoding="utf-8")
    assert company_currency(config) == "GBP"
    config.write_text('[books]\ncompany_currency = "euro"\n', encoding="utf-8")
    with pytest.raises(ExportConfigError):
        company_currency(config)
    env = {"MOLLIE_LEDGER_EXPORT_DIR": str(tmp_path / "out")}
    assert ExportSettings.from_env(env).export_dir == tmp_path / "out"


def test_definitions_load_with_the_export_assets():
    from orchestration.definitions import defs

    dg.Definitions.validate_loadable(defs)
    keys = defs.resolve_asset_graph().get_all_asset_keys()
    assert {dg.AssetKey(["export", "csv"]), dg.AssetKey(["export", "frappe"])} <= keys
