"""Property: any valid ledger gives balanced journal entries (docs/accounting.md).

Hypothesis generates settlements of one balance: the rows each swept (payments and captures with
their fees split over deductionDetails, refunds, chargebacks, reversals, invoice compensation,
fee rows, reserve, loan and correction rows, a cancelled transfer, rows of a type Mollie may add
tomorrow), every row obeying Mollie's identity result = initial + deductions, the payout row
moving exactly the settlement's amount, and the amount itself off the swept net by at most the
configured tolerance. Those rows go into the raw tables the models read; the SQL models up to
the journal (and only those) are built; then every entry balances to the cent without a
rounding line, the clearing lines of all entries add up to the ledger, each payout entry's bank
line is its payout, and exactly the days holding a row of an unknown type are held.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from transforms.build import build_model, prepare
from transforms.config import LedgerConfig
from transforms.models import discover

TOLERANCE = Decimal("0.05")  # settlement_ledger_net, so the rounding line has work to do
CENTS = Decimal("0.01")
START = datetime(2026, 9, 1, 6, tzinfo=UTC)
JOURNAL = (
    ("marts", "journal_entry_status"),
    ("marts", "journal_entry_lines"),
    ("marts", "journal_entries"),
)
UNKNOWN = "a-type-mollie-adds-tomorrow"


def _needed() -> list:
    """The models the journal reads, directly or not, in build order."""
    models = {m.key: m for m in discover()}
    need: set[tuple[str, str]] = set()
    todo = list(JOURNAL)
    while todo:
        key = todo.pop()
        if key in models and key not in need:
            need.add(key)
            todo.extend(models[key].deps)
    return [m for m in discover() if m.key in need]


MODELS = _needed()


def cents(low: int, high: int) -> st.SearchStrategy[Decimal]:
    return st.integers(low, high).map(lambda n: Decimal(n) * CENTS)


@dataclass(frozen=True)
class Row:
    """One balance transaction: its type, gross (initialAmount) and fee (deductions, <= 0)."""

    type: str
    gross: Decimal
    fee: Decimal = Decimal(0)
    reservation: Decimal = Decimal(0)  # deductionDetails.reservations (rolling reserve)

    @property
    def net(self) -> Decimal:  # Mollie's identity: resultAmount = initialAmount + deductions
        return self.gross + self.fee + self.reservation


# Rows tied to a listed object (swept because the settlement lists it)…
payments = st.builds(
    Row,
    st.sampled_from(["payment", "capture"]),
    cents(1, 500_000),
    cents(-900, 0),
    cents(-1_000, 0),
)
refunds = st.builds(Row, st.just("refund"), cents(-200_000, -1), cents(-50, 0))
chargebacks = st.builds(Row, st.just("chargeback"), cents(-200_000, -1), cents(-1_500, 0))
# …and rows swept by time window (after the previous payout, up to this one).
window_rows = st.builds(
    Row,
    st.sampled_from(
        [
            "chargeback-reversal",
            "invoice-compensation",
            "invoice-rounding-compensation",
            "payment-fee",
            "balance-charge-fee",
            "canceled-transfer",
            "rolling-reserve-release",
            "loan",
            "repayment",
            "balance-correction",
            "unauthorized-direct-debit",
            UNKNOWN,
        ]
    ),
    cents(-100_000, 100_000),
)


@dataclass(frozen=True)
class Settlement:
    listed: list[Row]
    window: list[Row]
    difference: Decimal  # amount − Σ net swept, within tolerance

    @property
    def amount(self) -> Decimal:
        return sum((r.net for r in [*self.listed, *self.window]), Decimal(0)) + self.difference


settlement = st.builds(
    Settlement,
    st.lists(st.one_of(payments, refunds, chargebacks), max_size=6),
    st.lists(window_rows, max_size=3),
    cents(-5, 5),
)


def _load(con: duckdb.DuckDBPyConnection, ledger: list[Settlement]) -> None:
    """The ledger as raw rows, the way the extract lands them."""
    con.execute(
        "insert into mollie.balances (id, currency, available_amount, available_amount_currency,"
        " created_at) values ('bal_p', 'EUR', 0, 'EUR', ?)",
        [START - timedelta(days=30)],
    )
    n = 0
    for i, s in enumerate(ledger):
        stl = f"stl_p{i}"
        paid_at = START + timedelta(days=i + 1)
        con.execute(
            "insert into mollie.settlements (id, reference, status, amount, amount_currency, "
            "balance_id, created_at, settled_at) values (?, ?, 'paidout', ?, 'EUR', 'bal_p', ?, ?)",
            [stl, f"REF.{i}", s.amount, paid_at - timedelta(hours=2), paid_at],
        )
        rows = [(r, paid_at - timedelta(hours=12)) for r in s.listed]
        rows += [(r, paid_at - timedelta(hours=6)) for r in s.window]
        rows.append((Row("outgoing-transfer", -s.amount), paid_at))
        for row, at in rows:
            n += 1
            obj = f"o{n}"
            links = {"payment_id": None, "refund_id": None, "chargeback_id": None}
            listed_in = {
                "payment": ("settlement_payments", "payment_id", f"tr_{obj}"),
                "capture": ("settlement_payments", "payment_id", f"tr_{obj}"),
                "refund": ("settlement_refunds", "refund_id", f"re_{obj}"),
                "chargeback": ("settlement_chargebacks", "chargeback_id", f"chb_{obj}"),
            }.get(row.type)
            if listed_in is not None:
                table, column, object_id = listed_in
                links[column] = object_id
                con.execute(
                    f"insert into mollie.{table} (settlement_id, id, amount, amount_currency) "
                    "values (?, ?, ?, 'EUR')",
                    [stl, object_id, abs(row.gross)],
                )
            con.execute(
                "insert into mollie.balance_transactions (id, type, created_at, result_amount, "
                "result_amount_currency, initial_amount, initial_amount_currency, deductions, "
                "deductions_currency, deduction_fees, deduction_reservations, balance_id, "
                "payment_id, refund_id, chargeback_id, settlement_id) "
                "values (?, ?, ?, ?, 'EUR', ?, 'EUR', ?, 'EUR', ?, ?, 'bal_p', ?, ?, ?, ?)",
                [
                    f"baltr_{n}",
                    row.type,
                    at,
                    row.net,
                    row.gross,
                    row.fee + row.reservation,
                    row.fee,
                    row.reservation,
                    links["payment_id"],
                    links["refund_id"],
                    links["chargeback_id"],
                    # a payout names its settlement; so does a transfer that comes back
                    stl if row.type in ("outgoing-transfer", "canceled-transfer") else None,
                ],
            )


@settings(
    max_examples=40,
    deadline=None,  # a busy machine builds 17 models in a second, or in five
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)
@given(st.lists(settlement, min_size=1, max_size=3))
def test_any_valid_ledger_gives_balanced_entries(ledger: list[Settlement]) -> None:
    config = LedgerConfig.load()
    config.tolerances["settlement_ledger_net"] = TOLERANCE
    con = duckdb.connect()
    try:
        prepare(con, config, "property-pii-key")
        _load(con, ledger)
        for model in MODELS:
            build_model(con, model)
        lines = con.execute(
            "select posting_key, role, debit, credit from marts.journal_entry_lines"
        ).fetchall()
        entries = dict(
            con.execute("select posting_key, is_balanced from marts.journal_entries").fetchall()
        )
        held = dict(
            con.execute(
                "select posting_key, hold_reason from marts.journal_entry_status "
                "where hold_reason is not null"
            ).fetchall()
        )
        clearing_total = con.execute(
            "select sum(clearing_amount) from marts.journal_entry_status"
        ).fetchone()[0]
        unknown_days = {
            k
            for (k,) in con.execute(
                "select distinct 'mollie-day-bal_p-' || strftime(created_date, '%Y-%m-%d') "
                "from staging.stg_mollie__balance_transactions where type = ?",
                [UNKNOWN],
            ).fetchall()
        }
    finally:
        con.close()

    assert all(entries.values()), entries
    assert all(d >= 0 and c >= 0 and (d == 0) != (c == 0) for _, _, d, c in lines)
    assert not [line for line in lines if line[1] == "rounding"]  # every row adds up
    for key in entries:
        mine = [line for line in lines if line[0] == key]
        assert sum(d for _, _, d, _ in mine) == sum(c for _, _, _, c in mine), (key, mine)
    # Every row is booked once, held or not: the clearing lines add up to the whole ledger.
    every_row = [r for s in ledger for r in [*s.listed, *s.window]]
    payouts = sum((s.amount for s in ledger), Decimal(0))
    assert clearing_total == sum((r.net for r in every_row), Decimal(0)) - payouts
    # Only what cannot be placed is held: a day with an unknown type (never a catch-all), and
    # a payout whose settlement the reconciliation holds (with the transfer back that undoes it).
    assert unknown_days <= set(held)
    for key, reason in held.items():
        assert key in unknown_days or key.startswith("mollie-payout"), (key, reason)
        if key in unknown_days:
            assert UNKNOWN in reason
    for i, s in enumerate(ledger):
        key = f"mollie-payout-stl_p{i}"
        if key in entries:
            mine = [line for line in lines if line[0] == key]
            bank = sum((d - c for _, role, d, c in mine if role == "bank"), Decimal(0))
            assert bank == s.amount, (key, mine)  # the payout, to the cent
        else:
            assert key in held or s.amount == 0, key
