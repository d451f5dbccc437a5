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


@pytest.fixture(
    scope="module",
    params=[("every_type", 7), ("every_type", 23), ("platform", 7), ("platform", 23)],
    ids=lambda p: f"{p[0]}-{p[1]}",
)
def world(request, tmp_path_factory, build_warehouse) -> Path:
    flag, seed = request.param
    return build_warehouse(tmp_path_factory.mktemp(f"{flag}{seed}"), seed, **{flag: True})


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
