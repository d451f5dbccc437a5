"""Bad input from users, through the command line: each mistake gives a message that says what to
do and a non-zero exit, never a traceback (docs/design.md, Principles 5).

In process (click's CliRunner) against a sandbox over HTTP, with every path in tmp_path.
"""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
import warehouse_builds
from click.testing import CliRunner
from reliability_support import world

from cli.main import main
from quality.gate_results import GATE_TABLE, ensure_gate_table
from sandbox.frappe import FrappeTestServer
from sandbox.server import SandboxServer

ORGANIZATION_TOKEN_HELP = "need an organization access token (access_…)"


@pytest.fixture(scope="module")
def sandbox():
    with SandboxServer(world()) as server:
        yield server


@pytest.fixture
def env(monkeypatch, tmp_path, sandbox) -> Path:
    """A deployment's environment: the sandbox as Mollie (a real token), every path in tmp."""
    for name in (
        "MOLLIE_LEDGER_CONFIG",
        "SOURCES__MOLLIE__ACCESS_TOKEN",
        "DAGSTER_HOME",
        "FRAPPE_URL",
        "FRAPPE_API_KEY",
        "FRAPPE_API_SECRET",
        "PROMETHEUS_PUSHGATEWAY_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    values = {
        "MOLLIE_ACCESS_TOKEN": sandbox.access_token,
        "MOLLIE_API_BASE_URL": sandbox.base_url,
        "MOLLIE_RATE_PER_SECOND": "0",
        "MOLLIE_LEDGER_PII_KEY": "user-errors-pii-key",
        "MOLLIE_LEDGER_DB": str(tmp_path / "w.duckdb"),
        "MOLLIE_LEDGER_BANK_DIR": str(tmp_path / "bank"),
        "MOLLIE_LEDGER_EXPORT_DIR": str(tmp_path / "exports"),
        "MOLLIE_LEDGER_REPORT_DIR": str(tmp_path / "report"),
        "MOLLIE_LEDGER_QUALITY_DOCS": str(tmp_path / "docs"),
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return tmp_path


def _cli(*args: str):
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def test_a_profile_key_and_a_broken_bank_statement_are_both_named(
    env, sandbox, monkeypatch, measured
) -> None:
    # Two mistakes at once, as a new user might make them: a website profile's live key instead
    # of an organization token, and a bank export cut off mid-file in the drop folder. The run
    # says both (the bank statements do not wait for Mollie), and gives up at once: a credential
    # is not retried a minute later.
    key = next(iter(sandbox.profile_keys.values()))
    monkeypatch.setenv("MOLLIE_ACCESS_TOKEN", key)
    (env / "bank").mkdir()
    (env / "bank" / "camt053_2026-10.xml").write_text(
        "<?xml version='1.0'?><Document><BkToCstmrStmt><Stmt><Ntry>", encoding="utf-8"
    )
    started = time.monotonic()
    result = _cli("run")
    assert result.exit_code == 1
    assert "FAILED:" in result.output
    assert "MOLLIE_ACCESS_TOKEN is a profile API key (live_…)" in result.output
    assert ORGANIZATION_TOKEN_HELP in result.output
    assert "camt053_2026-10.xml: not well-formed XML" in result.output
    assert key not in result.output
    assert time.monotonic() - started < 55  # the extract's 60 s retry delay did not apply
    measured.record(
        "bad input from users",
        "profile API key (live_…) and a cut-off CAMT.053 in one run",
        tried=2,
        lost=0,
        duplicated=0,
        note="exit 1, both named: “MOLLIE_ACCESS_TOKEN is a profile API key (live_…); … need an "
        "organization access token”, “camt053_2026-10.xml: not well-formed XML (…)”",
    )


def test_extract_with_a_profile_key_says_which_token_to_use(env, sandbox, monkeypatch) -> None:
    key = next(iter(sandbox.profile_keys.values()))
    monkeypatch.setenv("MOLLIE_ACCESS_TOKEN", key)
    result = _cli("extract")
    assert result.exit_code == 1
    assert "MOLLIE_ACCESS_TOKEN is a profile API key (live_…)" in result.output
    assert "Dashboard" in result.output and key not in result.output


@pytest.mark.parametrize(
    ("label", "config", "message"),
    [
        ("the file is missing", None, "does not exist (MOLLIE_LEDGER_CONFIG)"),
        ("a role without account", '[books.accounts]\nfees = ""\n', "[books.accounts] needs fees"),
        ("not TOML", "[books\ncompany = 1\n", "is not valid TOML"),
    ],
    ids=["missing-file", "role-without-account", "not-toml"],
)
def test_an_unusable_config_is_refused_before_anything_runs(
    env, monkeypatch, label, config, message, measured
) -> None:
    path = env / "ledger.toml"
    if config is not None:
        path.write_text(config, encoding="utf-8")
    monkeypatch.setenv("MOLLIE_LEDGER_CONFIG", str(path))
    started = time.monotonic()
    result = _cli("run")
    assert result.exit_code == 1
    assert result.output.startswith("FAILED:")
    assert f"ledger config {path}" in result.output or f"{path}:" in result.output
    assert message in result.output
    assert time.monotonic() - started < 10  # refused before Dagster or Mollie is touched
    assert not (env / "w.duckdb").exists()
    erase = _cli("erase-customer", "cst_Aaaaaaaaaa")
    assert erase.exit_code == 1 and message in erase.output
    measured.record(
        "bad input from users",
        f"ledger config: {label}",
        tried=2,
        lost=0,
        duplicated=0,
        note=f"`run` and `erase-customer` exit 1: “…{message}”",
    )


@pytest.mark.parametrize("shape", ["parent-is-a-file", "is-a-directory"])
def test_an_unwritable_warehouse_path_is_refused(env, shape, monkeypatch, measured) -> None:
    if shape == "parent-is-a-file":
        (env / "not-a-folder").write_text("", encoding="utf-8")
        db = env / "not-a-folder" / "w.duckdb"
        ours = f"cannot write the warehouse {db}: {env / 'not-a-folder'} is a file, not a folder"
        expected = {"run": ours, "extract": ours}
    else:
        db = env / "a-folder.duckdb"
        db.mkdir()
        # `--db` is a click file option on every command: click refuses a folder itself (exit 2)
        # before anything runs; our own check covers the same folder given in MOLLIE_LEDGER_DB.
        click_says = f"Invalid value for '--db': File '{db}' is a directory"
        ours = f"cannot write the warehouse {db}: it is a directory"
        expected = {"run": click_says, "extract": click_says}
    for command, message in expected.items():
        result = _cli(command, "--db", str(db))
        assert result.exit_code in (1, 2), result.output
        assert message in result.output
        if message == ours:
            assert "choose a writable file with --db or MOLLIE_LEDGER_DB" in result.output
    if shape == "is-a-directory":  # the same folder from the environment: our own check
        monkeypatch.setenv("MOLLIE_LEDGER_DB", str(db))
        result = _cli("run")
        assert result.exit_code == 1 and ours in result.output, result.output
    measured.record(
        "bad input from users",
        f"unwritable warehouse path ({shape})",
        tried=2,
        lost=0,
        duplicated=0,
        note=f"`run` and `extract` exit non-zero: “{ours.replace(str(env), '…')}; choose a "
        "writable file with --db or MOLLIE_LEDGER_DB”",
    )


def test_an_account_missing_in_the_chart_waits_in_review_with_frappes_message(
    env, clean_warehouse, company_entries, monkeypatch, measured
) -> None:
    # A typo in the EUR clearing account: the books are built with it, Frappe refuses every
    # entry that names it (each day's and each payout's), and posts the rest (fee VAT).
    config = env / "ledger.toml"
    config.write_text('[books.clearing_accounts]\nEUR = "Mollie Typo - VGV"\n', encoding="utf-8")
    monkeypatch.setenv("MOLLIE_LEDGER_CONFIG", str(config))
    db = env / "w.duckdb"
    shutil.copy(clean_warehouse, db)
    warehouse_builds.rebuild(db)
    con = duckdb.connect(str(db))
    try:
        naming_typo = sorted(
            key
            for (key,) in con.execute(
                "select distinct e.posting_key from marts.journal_entries as e "
                "join marts.journal_entry_lines as l using (posting_key) "
                "where e.currency = 'EUR' and l.account = 'Mollie Typo - VGV'"
            ).fetchall()
        )
        ensure_gate_table(con)
        con.execute(
            f"insert into {GATE_TABLE} values ('run-1', ?, 'marts/journal_entries', 'gate', "
            "true, 'ERROR', 0)",
            [datetime.now(UTC)],
        )
    finally:
        con.close()
    assert naming_typo and set(naming_typo) <= set(company_entries)
    with FrappeTestServer() as frappe:
        monkeypatch.setenv("FRAPPE_URL", frappe.url)
        monkeypatch.setenv("FRAPPE_API_KEY", frappe.api_key)
        monkeypatch.setenv("FRAPPE_API_SECRET", frappe.api_secret)
        result = _cli("export")
        posted = frappe.journal_entries
    posted_keys = {doc.get("mollie_posting_key") for doc in posted.values()}
    assert posted_keys == set(company_entries) - set(naming_typo)
    refused = [line for line in result.output.splitlines() if "Mollie Typo - VGV" in line]
    assert sorted(line.split()[1].rstrip(":") for line in refused) == naming_typo
    assert all(
        "Could not find Row #" in line and "Account: Mollie Typo - VGV" in line for line in refused
    )
    # By design a refusal is not a failed export: the entry waits in export.review with
    # Frappe's message and the run goes on; the exit says whether anything failed.
    assert result.exit_code == 0
    measured.record(
        "bad input from users",
        "an account missing in Frappe's chart",
        tried=len(refused),
        lost=0,
        duplicated=0,
        note="nothing that names the account posted; each such entry in export.review with "
        "Frappe's “Could not find Row #N: Account: …”; exit 0 by design (review is not a failure)",
    )
