"""The raw table contract (`extract.records.TABLES`) against Mollie's own sample responses.

Every record in every sample maps through the same `Table.rows` the dlt source uses, into rows
whose money is an exact `Decimal` and whose instants are aware UTC datetimes, and every column
a row carries is declared (so dlt never infers a type). The samples' quirks (month keys "4" vs
"04", both timestamp styles, a subscription without `customerId`) are asserted explicitly.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from mollie_fakes import SAMPLES_DIR, load_sample

from extract.records import (
    QUARANTINE_COLUMNS,
    TABLES,
    money_columns,
    quarantine_row,
)

# Mollie resource names (both spellings the samples use) → the raw tables a record feeds.
TABLES_OF_RESOURCE = {
    "organization": ("organizations",),
    "profile": ("profiles",),
    "balance": ("balances",),
    "balance_transaction": ("balance_transactions",),
    "balance-transaction": ("balance_transactions",),
    "balance-report": ("balance_reports",),
    "settlement": ("settlements", "settlement_periods"),
    "invoice": ("invoices", "invoice_lines"),
    "payment": ("payments", "settlement_payments"),
    "refund": ("refunds", "settlement_refunds"),
    "chargeback": ("chargebacks", "settlement_chargebacks"),
    "capture": ("settlement_captures",),
    "customer": ("customers",),
    "subscription": ("subscriptions",),
}
# Context the source adds to rows of these tables.
CONTEXT = {
    "balance_transactions": {"balance_id": "bal_sample"},
    **{f"settlement_{k}": {"settlement_id": "stl_sample"} for k in ("payments", "refunds")},
    **{f"settlement_{k}": {"settlement_id": "stl_sample"} for k in ("chargebacks", "captures")},
}
# The one sample Mollie's SDK ships that is not a valid record: its report `totals` is a stub.
INVALID = {"balance_report_single.json": "totals.some_data"}
# Webhook events are hints to re-fetch (docs/design.md, Security and privacy), not a raw table.
NOT_LOADED = {"event"}
SAMPLES = sorted(str(p.relative_to(SAMPLES_DIR)) for p in SAMPLES_DIR.rglob("*.json"))


def _records(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The objects in a response: list items under `_embedded`, or the object itself."""
    embedded = body.get("_embedded")
    if "count" in body and isinstance(embedded, dict):
        records = [item for items in embedded.values() for item in items]
    else:
        records = [body] if "resource" in body else []
    return [r for r in records if r["resource"] not in NOT_LOADED]


def _map(record: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """All rows a record yields, per table (raises ValueError like the source would see)."""
    tables = TABLES_OF_RESOURCE[record["resource"]]
    return {t: TABLES[t].rows(record, **CONTEXT.get(t, {})) for t in tables}


def _assert_typed(table: str, rows: list[dict[str, Any]]) -> None:
    spec = TABLES[table]
    declared = spec.columns()
    money = set(money_columns(spec))
    for row in rows:
        assert set(row) <= set(declared), f"{table}: undeclared {set(row) - set(declared)}"
        for column, value in row.items():
            if value is None:
                continue
            hint = declared[column]
            if column in money:
                assert type(value) is Decimal, (table, column, value)
                assert -value.as_tuple().exponent <= hint["scale"], (table, column, value)
            elif hint["data_type"] == "timestamp":
                assert isinstance(value, datetime) and value.tzinfo is UTC, (table, column)
            elif hint["data_type"] == "date":
                assert type(value) is date, (table, column, value)
            elif hint["data_type"] == "bigint":
                assert type(value) is int, (table, column, value)
        for key in spec.primary_key:
            assert row[key] not in (None, ""), (table, key)


def test_samples_are_there() -> None:
    assert len(SAMPLES) == 67
    assert sum(1 for name in SAMPLES if _records(load_sample(name))) >= 55


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_maps_without_quarantine(name: str) -> None:
    for record in _records(load_sample(name)):
        if name in INVALID:
            with pytest.raises(ValueError, match=INVALID[name]):
                _map(record)
            continue
        for table, rows in _map(record).items():
            _assert_typed(table, rows)


def test_every_table_is_fed_by_some_sample() -> None:
    fed = {
        table
        for name in SAMPLES
        if name not in INVALID
        for record in _records(load_sample(name))
        for table, rows in _map(record).items()
        if rows
    }
    assert fed == set(TABLES) - {"profiles"}  # no profile among the copied SDK fixtures


def test_exact_amounts_from_a_payment() -> None:
    (row,) = TABLES["payments"].rows(load_sample("payment_single.json"))
    assert row["amount"] == Decimal("10.00") and row["amount_currency"] == "EUR"
    assert str(row["amount"]) == "10.00"  # scale kept, never a float


@pytest.mark.parametrize("month_key", ["4", "04"])
def test_period_month_keys_with_and_without_zero(month_key: str) -> None:
    settlement = load_sample("settlement_single.json")
    year, months = next(iter(settlement["periods"].items()))
    period = next(iter(months.values()))
    record = {**settlement, "periods": {year: {month_key: period}}}
    rows = TABLES["settlement_periods"].rows(record)
    assert rows and {r["month"] for r in rows} == {4}
    assert all(type(r["amount_gross"]) is Decimal for r in rows)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2018-04-06T06:00:01.0Z", datetime(2018, 4, 6, 6, 0, 1, tzinfo=UTC)),
        ("2024-03-20T10:13:37+01:00", datetime(2024, 3, 20, 9, 13, 37, tzinfo=UTC)),
    ],
)
def test_both_timestamp_styles(raw: str, expected: datetime) -> None:
    record = {**load_sample("payment_single.json"), "createdAt": raw}
    (row,) = TABLES["payments"].rows(record)
    assert row["created_at"] == expected


def test_subscription_without_customer_id_takes_it_from_links() -> None:
    record = load_sample("subscription_single.json")  # the Python SDK's sample has no customerId
    assert "customerId" not in record
    (row,) = TABLES["subscriptions"].rows(record)
    assert row["customer_id"] == "cst_8wmqcHMN4U"
    assert row["customer_id"] in record["_links"]["customer"]["href"]


def test_list_without_next_link_still_maps() -> None:
    body = load_sample("chargebacks_list_more.json")
    assert "next" not in body["_links"]
    rows = [r for rec in _records(body) for r in _map(rec)["settlement_chargebacks"]]
    assert rows and all(r["settlement_id"] == "stl_sample" for r in rows)


def test_ledger_row_and_settlement_load_without_created_at() -> None:
    (row,) = TABLES["balance_transactions"].rows(
        load_sample("mollie-api-php/balance-transaction.json"), balance_id="bal_x"
    )
    assert row["created_at"] is None and row["result_amount"] == Decimal("-10.25")
    assert row["refund_id"] == "re_4qqhO89gsT" and row["balance_id"] == "bal_x"


def test_settlement_list_context_wins_over_the_record() -> None:
    record = {**load_sample("payment_single.json"), "settlementId": "stl_other"}
    (row,) = TABLES["settlement_payments"].rows(record, settlement_id="stl_listed")
    assert row["settlement_id"] == "stl_listed"


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda r: r["amount"].update(value="1,00"), "amount"),
        (lambda r: r.pop("id"), "id"),
        (lambda r: r.update(createdAt="yesterday"), "createdAt"),
        (lambda r: r["amount"].update(value="0.001"), "amount"),
    ],
)
def test_malformed_records_raise_naming_the_field(mutate: Any, reason: str) -> None:
    record = load_sample("payment_single.json")
    mutate(record)
    with pytest.raises(ValueError, match=reason):
        TABLES["payments"].rows(record)


def test_quarantine_row_is_stable_and_complete() -> None:
    record = {"id": "tr_x", "amount": {"value": "1,00", "currency": "EUR"}}
    first = quarantine_row("payments", record, "amount: bad", settlement_id="stl_1")
    again = quarantine_row("payments", dict(record), "amount: bad", settlement_id="stl_1")
    assert set(first) == set(QUARANTINE_COLUMNS)
    assert first["record_key"] == again["record_key"]  # a re-run merges onto the same row
    assert first["object_id"] == "tr_x" and '"1,00"' in first["raw"]
    assert quarantine_row("refunds", record, "x")["record_key"] != first["record_key"]


def test_every_amount_column_is_decimal_with_mollies_scale() -> None:
    for table in TABLES.values():
        for column in money_columns(table):
            hint = table.columns()[column]
            assert hint["precision"] == 18 and hint["scale"] in (2, 4), (table.name, column)
    assert money_columns(TABLES["settlement_periods"]) == [
        "amount_net",
        "amount_vat",
        "amount_gross",
        "rate_fixed",
        "rate_percentage",
    ]
