"""The type map on real sandbox data: every type lands in its category and role with its
deductions split, an unknown type is held, late rows belong to the settlement whose window holds
them, and a deposit that differs holds its settlement."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from ledger_rows import findings, row_sql
from warehouse_builds import rebuild

from extract.pipeline import run_extract
from extract.settings import ClientSettings
from sandbox.generate import SandboxConfig
from sandbox.server import DEFAULT_ACCESS_TOKEN, SandboxServer
from transforms.seeds import SEEDS_DIR, read_seed

HEADER, ROWS = read_seed(SEEDS_DIR / "balance_transaction_types.csv")
TYPE_MAP = [dict(zip(HEADER, row, strict=True)) for row in ROWS]
CATEGORIES = sorted({t["category"] for t in TYPE_MAP})
# Every injected row withholds all four kinds of deduction Mollie details.
FEES, RESERVED, REPAID, COMMISSION = (
    Decimal("-0.29"),
    Decimal("-0.11"),
    Decimal("-0.06"),
    Decimal("-0.04"),
)
DEDUCTIONS = FEES + RESERVED + REPAID + COMMISSION


def gross_for(sign: str) -> Decimal:
    return Decimal("10.00") if sign == "+" else Decimal("-10.00")


@pytest.fixture(scope="module")
def every_type(clean_warehouse, tmp_path_factory) -> Path:
    """The clean warehouse plus one row of every mapped type, after the last settlement, with
    every deduction detailed, and one row with deductions but no deductionDetails."""
    db = tmp_path_factory.mktemp("every_type") / "w.duckdb"
    shutil.copy(clean_warehouse, db)
    con = duckdb.connect(str(db))
    for n, t in enumerate(TYPE_MAP):
        row_sql_ = row_sql(
            f"baltr_injected{n}",
            t["type"],
            "2026-11-01T00:30:00Z",
            gross_for(t["initial_sign"]),
            deductions=DEDUCTIONS,
            details=(FEES, RESERVED, REPAID, COMMISSION),
        )
        con.execute(row_sql_)
    con.execute(
        row_sql(
            "baltr_nodetails",
            "payment",
            "2026-11-01T00:30:00Z",
            Decimal("20.00"),
            deductions=Decimal("-0.55"),
        )
    )
    con.close()
    rebuild(db)
    return db


@pytest.mark.parametrize("category", CATEGORIES)
def test_each_type_lands_in_its_category_and_role_with_deductions_split(every_type, category):
    con = duckdb.connect(str(every_type), read_only=True)
    expected = {t["type"]: t for t in TYPE_MAP if t["category"] == category}
    rows = con.execute(
        "select type, category, account_role, gross, fee, reservation, repayment, commission, net "
        "from marts.balance_ledger where transaction_id like 'baltr_injected%' and type in "
        "(select unnest(?))",
        [list(expected)],
    ).fetchall()
    assert {r[0] for r in rows} == set(expected)
    for type_, cat, role, gross, fee, reserved, repaid, commission, net in rows:
        t = expected[type_]
        assert (cat, role) == (t["category"], t["account_role"]), type_
        assert gross == gross_for(t["initial_sign"])
        assert (fee, reserved, repaid, commission) == (FEES, RESERVED, REPAID, COMMISSION)
        assert net == gross + DEDUCTIONS
        assert all(isinstance(v, Decimal) for v in (gross, fee, reserved, repaid, commission, net))
    injected = {f for f in findings(con) if f[2].startswith("baltr_injected")}
    assert injected == set(), "a mapped type whose details add up is no finding"


def test_deductions_without_details_are_fees(every_type):
    con = duckdb.connect(str(every_type), read_only=True)
    row = con.execute(
        "select fee, reservation, repayment, commission from marts.balance_ledger "
        "where transaction_id = 'baltr_nodetails'"
    ).fetchone()
    assert row == (Decimal("-0.55"), 0, 0, 0)


def test_reserves_are_not_fees_and_fee_rows_are(every_type, clean_warehouse):
    """Only fee deductions and fee rows count as what Mollie charged: a reservation does not."""
    clean = duckdb.connect(str(clean_warehouse), read_only=True)
    before = clean.execute("select sum(fees) from marts.daily_overview").fetchone()[0]
    clean.close()
    con = duckdb.connect(str(every_type), read_only=True)
    after = con.execute("select sum(fees) from marts.daily_overview").fetchone()[0]
    fee_rows = [t for t in TYPE_MAP if t["category"] in ("fee", "compensation")]
    expected = (
        before
        + FEES * len(TYPE_MAP)
        + Decimal("-0.55")
        + sum(gross_for(t["initial_sign"]) for t in fee_rows)
    )
    assert after == expected


def test_every_fee_type_counts_on_the_fee_invoice(clean_warehouse, corrupt):
    """A payment-fee (and every other fee-category row) is part of the month Mollie invoices;
    a reservation withheld is not."""
    con = duckdb.connect(str(clean_warehouse), read_only=True)
    invoice, month = con.execute(
        "select invoice_id, period_month from marts.fee_invoice_reconciliation "
        "where currency = 'EUR' order by period_month limit 1"
    ).fetchone()
    con.close()
    fee_types = [t["type"] for t in TYPE_MAP if t["category"] == "fee"]
    assert {"payment-fee", "failed-payment-fee", "balance-charge-fee"} <= set(fee_types)
    at = f"{month.isoformat()}T12:00:00Z"
    # A fee row moves nothing but its fee: initialAmount 0, the fee in deductionDetails.fees.
    fee = Decimal("-0.35")
    statements = [
        row_sql(f"baltr_fee{n}", type_, at, Decimal(0), deductions=fee, details=(fee, *[None] * 3))
        for n, type_ in enumerate(fee_types)
    ]
    # a rolling-reserve hold withheld on a payment is not a fee
    statements.append(
        row_sql(
            "baltr_reserved",
            "payment",
            at,
            Decimal("10.00"),
            deductions=Decimal("-10.00"),
            details=(Decimal(0), Decimal("-10.00"), None, None),
        )
    )
    bad = corrupt(*statements)
    difference = bad.execute(
        "select difference from marts.fee_invoice_reconciliation where invoice_id = ?", [invoice]
    ).fetchone()[0]
    assert difference == Decimal("0.35") * len(fee_types)
    assert ("fee_invoice", "invoice", invoice) in findings(bad)


def test_a_warehouse_loaded_before_the_deduction_split_still_builds_and_loads(
    clean_warehouse, tmp_path
):
    """An existing warehouse whose raw ledger predates the reservation/repayment/commission
    columns: the models build (the parts are NULL, so 0), and the next extract loads into it."""
    db = tmp_path / "w.duckdb"
    shutil.copy(clean_warehouse, db)
    con = duckdb.connect(str(db))
    for part in ("reservations", "repayments", "commissions"):
        for column in (f"deduction_{part}", f"deduction_{part}_currency"):
            con.execute(f"alter table mollie.balance_transactions drop column {column}")
    con.close()
    rebuild(db)
    con = duckdb.connect(str(db))
    assert con.execute(
        "select count(*), sum(reservation) from marts.balance_ledger where reservation <> 0"
    ).fetchone() == (0, None)
    con.close()
    seed = 7 if "wh7" in str(clean_warehouse) else 23
    config = SandboxConfig.from_cli(
        seed=seed, payments=900, days=70, now="2026-11-01T00:00:00Z"
    ).advanced("2026-11-03T00:00:00Z")
    with SandboxServer(config) as server:
        settings = ClientSettings(
            base_url=server.base_url, token=DEFAULT_ACCESS_TOKEN, rate_per_second=1000, burst=1000
        )
        run_extract(db, settings=settings)
    rebuild(db)
    con = duckdb.connect(str(db), read_only=True)
    later = con.execute(
        "select count(*) from marts.balance_ledger where created_at >= '2026-11-01T00:00:00Z'"
    ).fetchone()[0]
    con.close()
    assert later > 0
