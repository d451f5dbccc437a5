"""The configuration check: every unusable setting a run needs is named, once, before it runs."""

from __future__ import annotations

import pytest

from export import preflight

TOKEN = "access_preflight0000000000000000"


@pytest.fixture
def good(tmp_path) -> dict[str, str]:
    """A complete deployment's settings: a real token, its PII key, a writable warehouse."""
    return {
        "MOLLIE_ACCESS_TOKEN": TOKEN,
        "MOLLIE_LEDGER_PII_KEY": "a-stable-key",
        "MOLLIE_LEDGER_DB": str(tmp_path / "data" / "w.duckdb"),
    }


def test_a_complete_configuration_has_no_problems(good, tmp_path) -> None:
    assert preflight.problems(env=good) == []
    preflight.check(env=good)
    assert not (tmp_path / "data").exists()  # the check creates nothing


def test_every_problem_is_named_once_and_together(good, tmp_path) -> None:
    (tmp_path / "file").write_text("", encoding="utf-8")
    env = {
        **good,
        "MOLLIE_LEDGER_PII_KEY": "",
        "MOLLIE_LEDGER_DB": str(tmp_path / "file" / "w.duckdb"),
        "MOLLIE_LEDGER_CONFIG": str(tmp_path / "missing.toml"),
        "FRAPPE_URL": "https://erp.example.org",
        "FRAPPE_API_KEY": "frappe-key-4711",
    }
    with pytest.raises(preflight.SettingsError) as raised:
        preflight.check(env=env)
    found = raised.value.problems
    assert len(found) == 4, found
    assert found[0].startswith(f"cannot write the warehouse {tmp_path / 'file' / 'w.duckdb'}")
    assert "does not exist (MOLLIE_LEDGER_CONFIG)" in found[1]
    assert found[2].startswith("MOLLIE_LEDGER_PII_KEY is not set")
    assert "FRAPPE_URL is set but FRAPPE_API_SECRET is not" in found[3]
    message = str(raised.value)
    assert message.count("MOLLIE_LEDGER_PII_KEY is not set") == 1
    assert "frappe-key-4711" not in message and TOKEN not in message  # no credential echoed


def test_without_a_token_the_token_is_named_not_the_pii_key(good) -> None:
    env = {k: v for k, v in good.items() if k != "MOLLIE_ACCESS_TOKEN"}
    env["MOLLIE_LEDGER_PII_KEY"] = ""
    (problem,) = preflight.problems(env=env)
    assert problem.startswith("no Mollie token: set MOLLIE_ACCESS_TOKEN")
    # the sandbox (demo, ui --sandbox) sets a token and its own PII key: nothing is missing
    sandbox = {**env, "MOLLIE_ACCESS_TOKEN": TOKEN, "MOLLIE_LEDGER_PII_KEY": "demo-key"}
    assert preflight.problems(env=sandbox) == []


def test_an_extract_needs_neither_the_ledger_nor_frappe(good, tmp_path) -> None:
    env = {
        **good,
        "MOLLIE_LEDGER_PII_KEY": "",
        "MOLLIE_LEDGER_CONFIG": str(tmp_path / "missing.toml"),
        "FRAPPE_URL": "https://erp.example.org",
    }
    assert preflight.problems([preflight.EXTRACT], env=env) == []
    assert len(preflight.problems(env=env)) == 3


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ('[books.accounts]\nfees = ""\n', "[books.accounts] needs fees"),
        ("[books\n", "is not valid TOML"),
        ('[books]\ncompany_currency = "euro"\n', "company_currency must be an ISO 4217 code"),
    ],
    ids=["account-role-unset", "not-toml", "bad-currency"],
)
def test_an_incomplete_accounts_file_is_named(good, tmp_path, config, message) -> None:
    path = tmp_path / "ledger.toml"
    path.write_text(config, encoding="utf-8")
    (problem,) = preflight.problems(env={**good, "MOLLIE_LEDGER_CONFIG": str(path)})
    assert str(path) in problem and message in problem


def test_malformed_mollie_settings_are_named(good) -> None:
    env = {**good, "MOLLIE_RATE_PER_SECOND": "fast"}
    (problem,) = preflight.problems([preflight.EXTRACT], env=env)
    assert "MOLLIE_RATE_PER_SECOND" in problem


def test_a_warehouse_path_that_is_a_folder_is_named(good, tmp_path) -> None:
    (tmp_path / "w.duckdb").mkdir()
    env = {**good, "MOLLIE_LEDGER_DB": str(tmp_path / "w.duckdb")}
    assert preflight.problems([preflight.EXTRACT], env=env) == [
        f"cannot write the warehouse {tmp_path / 'w.duckdb'}: it is a directory; "
        "choose a writable file with --db or MOLLIE_LEDGER_DB"
    ]
    # --db wins over MOLLIE_LEDGER_DB, as in every command
    assert preflight.problems(db_path=tmp_path / "other.duckdb", env=env) == []
