"""Raw balance transactions as the extract lands them, for tests that inject rows, and the type
map's first type of each category (transforms/seeds/balance_transaction_types.csv)."""

from __future__ import annotations

import csv
from datetime import datetime
from decimal import Decimal
from pathlib import Path

TYPE_MAP = (
    Path(__file__).resolve().parents[2] / "transforms" / "seeds" / "balance_transaction_types.csv"
)
D = Decimal


def row_sql(
    id_: str,
    type_: str,
    at: datetime,
    gross: Decimal,
    balance: str,
    *,
    fees: Decimal | None = None,
    reservations: Decimal | None = None,
    repayments: Decimal | None = None,
    commissions: Decimal | None = None,
    settlement: str | None = None,
    transfer: str | None = None,
    net: Decimal | None = None,
) -> str:
    """One raw balance transaction as the extract lands it (amounts as Mollie signs them)."""
    parts = [p for p in (fees, reservations, repayments, commissions) if p is not None]
    deductions = sum(parts, D(0))
    net = gross + deductions if net is None else net

    def money(v):
        return "null" if v is None else f"{v}"

    def text(v):
        return "null" if v is None else f"'{v}'"

    return (
        "insert into mollie.balance_transactions (id, type, created_at, result_amount, "
        "result_amount_currency, initial_amount, initial_amount_currency, deductions, "
        "deductions_currency, deduction_fees, deduction_reservations, deduction_repayments, "
        "deduction_commissions, balance_id, settlement_id, transfer_id, _dlt_load_id, _dlt_id) "
        "values "
        f"('{id_}', '{type_}', '{at.isoformat()}', {net}, 'EUR', {gross}, 'EUR', "
        f"{deductions if parts else 'null'}, 'EUR', {money(fees)}, {money(reservations)}, "
        f"{money(repayments)}, {money(commissions)}, '{balance}', {text(settlement)}, "
        f"{text(transfer)}, '9999999999.0', '{id_}')"
    )


def first_type_per_category() -> dict[str, dict[str, str]]:
    with TYPE_MAP.open(encoding="utf-8", newline="") as handle:
        out: dict[str, dict[str, str]] = {}
        for row in csv.DictReader(handle):
            out.setdefault(row["category"], row)
    return out
