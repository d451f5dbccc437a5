"""The books on the sandbox's opt-in worlds, at two seeds: a Mollie Connect platform, and a world
in which every balance-transaction type Mollie documents occurs. Every type is mapped, every
paid-out settlement ties out, and there is no finding."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from warehouse_builds import build_warehouse

FIXTURE = Path(__file__).parents[2] / "fixtures" / "mollie_balance_transaction_types.txt"


def mollie_types() -> set[str]:
    lines = FIXTURE.read_text(encoding="utf-8").splitlines()
    return {line.split("\t")[0] for line in lines if line.strip() and not line.startswith("#")}


@pytest.fixture(
    scope="module",
    params=[("every_type", 7), ("every_type", 23), ("platform", 7), ("platform", 23)],
    ids=lambda p: f"{p[0]}-{p[1]}",
)
def world(request, tmp_path_factory) -> tuple[str, Path]:
    family, seed = request.param
    folder = tmp_path_factory.mktemp(f"{family}{seed}")
    return family, build_warehouse(folder, seed, **{family: True})


def test_every_type_is_mapped_and_the_books_tie_out(world):
    family, db = world
    con = duckdb.connect(str(db), read_only=True)
    types = {t for (t,) in con.execute("select distinct type from marts.balance_ledger").fetchall()}
    if family == "every_type":
        assert mollie_types() <= types, sorted(mollie_types() - types)
    unmapped = con.execute(
        "select count(*) from marts.balance_ledger where category is null"
    ).fetchone()[0]
    assert unmapped == 0
    assert con.execute("select count(*) from marts.reconciliation_exceptions").fetchone()[0] == 0
    statuses = dict(
        con.execute(
            "select status, count(*) from marts.settlement_reconciliation group by all"
        ).fetchall()
    )
    assert set(statuses) <= {"matched", "open"} and statuses["matched"] > 40
    held = con.execute(
        "select count(*) from marts.settlement_reconciliation where hold_reason is not null"
    ).fetchone()[0]
    assert held == 0
    # The money the type map puts on its own roles is there: reserves, and on a platform,
    # commissions and split payments.
    roles = {
        r
        for (r,) in con.execute(
            "select distinct account_role from marts.balance_ledger "
            "where gross <> 0 or reservation <> 0"
        ).fetchall()
    }
    expected = {"receipts", "refunds", "failed_payments", "bank", "fees", "reserve"}
    if family == "platform":
        expected |= {"commissions", "split_payments"}
    assert expected <= roles, sorted(expected - roles)
