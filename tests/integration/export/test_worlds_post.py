"""The opt-in sandbox worlds (`--every-type`: every balance-transaction type Mollie documents;
`--platform`: a Mollie Connect platform) at two seeds: the clearing identity holds on every day,
nothing is held, every entry balances without Rounding, and every EUR entry posts to the Frappe
stand-in with its accounts, cost centres and references."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from export.payload import POSTING_KEY_FIELD
from export.posting import post_entries
from extract.bank import load_bank_statements
from extract.pipeline import run_extract
from extract.settings import ClientSettings
from sandbox.bank import write_camt053
from sandbox.generate import SandboxConfig
from sandbox.server import DEFAULT_ACCESS_TOKEN, SandboxServer
from transforms.build import build_all
from transforms.config import LedgerConfig


@pytest.fixture(
    scope="module",
    params=[("every_type", 7), ("every_type", 23), ("platform", 7), ("platform", 23)],
    ids=lambda p: f"{p[0]}-{p[1]}",
)
def world(request, tmp_path_factory) -> Path:
    flag, seed = request.param
    folder = tmp_path_factory.mktemp(f"{flag}{seed}")
    config = SandboxConfig.from_cli(
        seed=seed, payments=900, days=70, now="2026-11-01T00:00:00Z", **{flag: True}
    )
    db = folder / "w.duckdb"
    with SandboxServer(config) as server:
        settings = ClientSettings(
            base_url=server.base_url, token=DEFAULT_ACCESS_TOKEN, rate_per_second=1000, burst=1000
        )
        run_extract(db, settings=settings)
        write_camt053(server.world, folder / "bank")
    with duckdb.connect(str(db)) as con:
        load_bank_statements(con, folder / "bank")
        build_all(con, LedgerConfig.load(), "test-pii-key")
    return db


def test_identity_holds_every_day_and_nothing_is_held_or_rounded(world):
    with duckdb.connect(str(world), read_only=True) as con:
        statuses = dict(
            con.execute(
                "select status, count(*) from marts.clearing_reconciliation group by all"
            ).fetchall()
        )
        reports = con.execute("select count(*) from marts.balance_reconciliation").fetchone()[0]
        assert statuses == {"matched": reports}
        assert con.execute("select count(*) from marts.reconciliation_exceptions").fetchone() == (
            0,
        )
        held = con.execute(
            "select posting_key, hold_reason from marts.journal_entry_status "
            "where hold_reason is not null"
        ).fetchall()
        assert held == []
        for key, debit, credit in con.execute(
            "select posting_key, total_debit, total_credit from marts.journal_entries"
        ).fetchall():
            assert isinstance(debit, Decimal) and debit == credit, key
        assert con.execute(
            "select count(*) from marts.journal_entry_lines where role = 'rounding'"
        ).fetchone() == (0,)
        # Every role the world's types book to has its line somewhere.
        roles = {
            r
            for (r,) in con.execute(
                "select distinct role from marts.journal_entry_lines"
            ).fetchall()
        }
        used = {
            r
            for (r,) in con.execute(
                "select distinct account_role from intermediate.int_ledger__categorised"
            ).fetchall()
        }
        assert used <= roles


def test_every_eur_entry_posts(world, tmp_path, frappe, client):
    db = tmp_path / "w.duckdb"
    db.write_bytes(world.read_bytes())
    with duckdb.connect(str(db)) as con:
        eur = {
            k
            for (k,) in con.execute(
                "select posting_key from marts.journal_entries where currency = 'EUR'"
            ).fetchall()
        }
        report = post_entries(con, client, company_currency="EUR")
    assert set(report.keys("posted")) == eur and report.failed == 0
    stored = [doc[POSTING_KEY_FIELD] for doc in frappe.journal_entries.values()]
    assert sorted(stored) == sorted(eur)
