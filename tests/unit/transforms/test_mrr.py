"""MRR movements against a hand-computed example with every category.

Four customers, EUR, months January to May 2026 (the data's last day is 15 May):
  A  10/month from 10 Jan                                  → new in Jan, then unchanged
  B  30/quarter (10/month) from 5 Jan; +20/month on 3 Mar   → new Jan, expansion Mar (+20)
  C  10/month and 5/month from Jan; the 5 canceled 15 Feb;
     the 10 canceled 20 Apr                                 → new Jan, contraction Feb, churned Apr
  D  12/year (1/month) from 2 Jan, canceled 10 Feb;
     6/month from 3 Apr                                     → new Jan, churned Feb, reactivation Apr
A subscription counts in a month only if still active at the month's end.
"""

from __future__ import annotations

from decimal import Decimal

import duckdb
import pytest

from transforms.build import build_all, prepare
from transforms.config import LedgerConfig

SUBSCRIPTIONS = [
    # id, customer, amount, interval, created, canceled, status
    ("sub_a", "cst_A", "10.00", "1 month", "2026-01-10", None, "active"),
    ("sub_b1", "cst_B", "30.00", "3 months", "2026-01-05", None, "active"),
    ("sub_b2", "cst_B", "20.00", "1 month", "2026-03-03", None, "active"),
    ("sub_c1", "cst_C", "10.00", "1 month", "2026-01-07", "2026-04-20", "canceled"),
    ("sub_c2", "cst_C", "5.00", "1 month", "2026-01-07", "2026-02-15", "canceled"),
    ("sub_d1", "cst_D", "12.00", "12 months", "2026-01-02", "2026-02-10", "canceled"),
    ("sub_d2", "cst_D", "6.00", "1 month", "2026-04-03", None, "active"),
]


@pytest.fixture(scope="module")
def warehouse():
    con = duckdb.connect()
    config = LedgerConfig.load()
    prepare(con, config, "k")
    for sub_id, cst, amount, interval, created, canceled, status in SUBSCRIPTIONS:
        con.execute(
            "insert into mollie.subscriptions (id, customer_id, status, amount, amount_currency, "
            "interval, created_at, canceled_at, _dlt_load_id) values (?, ?, ?, ?, 'EUR', ?, "
            "?::timestamptz, ?::timestamptz, '1')",
            [
                sub_id,
                cst,
                status,
                Decimal(amount),
                interval,
                f"{created} 12:00:00+00",
                f"{canceled} 12:00:00+00" if canceled else None,
            ],
        )
    # One ledger row fixes "the data's last day" (15 May) for the month spine.
    con.execute(
        "insert into mollie.balance_transactions (id, type, created_at, result_amount, "
        "result_amount_currency, initial_amount, initial_amount_currency, balance_id, _dlt_load_id)"
        " values ('baltr_1', 'payment', '2026-05-15 10:00:00+00', 1, 'EUR', 1, 'EUR', 'bal_1', '1')"
    )
    build_all(con, config, "k")  # every model must also build on an almost empty warehouse
    return con


def test_customer_movements(warehouse):
    rows = warehouse.execute(
        "select customer_id, strftime(month, '%m'), mrr, mrr_change, movement "
        "from marts.customer_mrr order by 1, 2"
    ).fetchall()
    got = {(c, m): (mrr, change, mv) for c, m, mrr, change, mv in rows}
    d = Decimal
    expected = {
        ("cst_A", "01"): (d(10), d(10), "new"),
        ("cst_A", "02"): (d(10), d(0), "unchanged"),
        ("cst_A", "05"): (d(10), d(0), "unchanged"),
        ("cst_B", "01"): (d(10), d(10), "new"),
        ("cst_B", "03"): (d(30), d(20), "expansion"),
        ("cst_C", "01"): (d(15), d(15), "new"),
        ("cst_C", "02"): (d(10), d(-5), "contraction"),
        ("cst_C", "03"): (d(10), d(0), "unchanged"),
        ("cst_C", "04"): (d(0), d(-10), "churned"),
        ("cst_D", "01"): (d(1), d(1), "new"),
        ("cst_D", "02"): (d(0), d(-1), "churned"),
        ("cst_D", "04"): (d(6), d(6), "reactivation"),
        ("cst_D", "05"): (d(6), d(0), "unchanged"),
    }
    for key, value in expected.items():
        assert got[key] == value, key
    assert ("cst_C", "05") not in got and ("cst_D", "03") not in got  # zero after zero: no row


def test_monthly_bridge(warehouse):
    rows = warehouse.execute(
        "select strftime(month, '%m'), mrr, previous_mrr, new_mrr, expansion_mrr, "
        "reactivation_mrr, contraction_mrr, churned_mrr from marts.subscription_mrr "
        "order by month"
    ).fetchall()
    d = Decimal
    assert [r[:2] for r in rows] == [
        ("01", d(36)),
        ("02", d(30)),
        ("03", d(50)),
        ("04", d(46)),
        ("05", d(46)),
    ]
    by_month = {r[0]: r[3:] for r in rows}
    assert by_month["01"] == (d(36), 0, 0, 0, 0)
    assert by_month["02"] == (0, 0, 0, d(-5), d(-1))
    assert by_month["03"] == (0, d(20), 0, 0, 0)
    assert by_month["04"] == (0, 0, d(6), 0, d(-10))
    for _, mrr, prev, *moves in rows:
        assert prev + sum(moves) == mrr
