"""Rows become Arrow tables typed exactly as the raw table contract declares them."""

from datetime import UTC, datetime
from decimal import Decimal

import pyarrow as pa
import pytest
from dlt.common.libs.pyarrow import py_arrow_to_table_schema_columns

from extract.arrow_rows import arrow_schema, to_arrow
from extract.records import QUARANTINE_COLUMNS, QUARANTINE_TABLE, TABLES, money_columns


@pytest.mark.parametrize("table", [*TABLES, QUARANTINE_TABLE])
def test_arrow_types_say_what_the_dlt_hints_say(table) -> None:
    hints = QUARANTINE_COLUMNS if table == QUARANTINE_TABLE else TABLES[table].columns()
    from_arrow = py_arrow_to_table_schema_columns(arrow_schema(table))
    assert list(from_arrow) == list(hints)
    for name, hint in hints.items():
        got = from_arrow[name]
        # JSON travels as its text; every other hint (type, precision, scale, nullability,
        # time zone) is what dlt reads back from the Arrow type.
        expected = {**hint, "data_type": "text"} if hint["data_type"] == "json" else hint
        for key in ("data_type", "precision", "scale", "timezone", "nullable"):
            if key in expected:
                assert (
                    got.get(key, True if key in ("nullable", "timezone") else None) == expected[key]
                ), (
                    table,
                    name,
                    key,
                )


def test_money_stays_decimal_exactly() -> None:
    table = "payments"
    row = {c: None for c in TABLES[table].columns()}
    row.update(
        id="tr_1",
        status="paid",
        created_at=datetime(2026, 11, 1, tzinfo=UTC),
        amount=Decimal("0.10"),
        amount_currency="EUR",
        amount_refunded=Decimal("-12345678901234.99"),
    )
    arrow = to_arrow(table, [row])
    for column in money_columns(TABLES[table]):
        assert pa.types.is_decimal(arrow.schema.field(column).type), column
    got = arrow.to_pylist()[0]
    assert got["amount"] == Decimal("0.10") and isinstance(got["amount"], Decimal)
    assert got["amount_refunded"] == Decimal("-12345678901234.99")


def test_an_undeclared_column_is_refused_not_dropped() -> None:
    with pytest.raises(ValueError, match="undeclared column"):
        to_arrow("balances", [{"id": "bal_1", "surprise": 1}])


def test_a_value_that_does_not_fit_is_refused() -> None:
    with pytest.raises(ValueError, match="payments"):
        to_arrow("payments", [{"id": "tr_1", "amount": "ten euros"}])


def _ids(n0: int, n: int) -> pa.Table:
    return pa.table({"id": [f"tr_{i}" for i in range(n0, n0 + n)]})


def test_coalesce_joins_pages_per_table_keeping_order_and_losing_nothing() -> None:
    import dlt

    from extract.arrow_rows import coalesce

    quarantined = dlt.mark.with_table_name(pa.table({"record_key": ["q1"]}), QUARANTINE_TABLE)
    items = [_ids(0, 3), quarantined, _ids(3, 3), "not arrow", _ids(6, 3), _ids(9, 2)]
    out = list(coalesce(items, max_rows=6))

    # 3 + 3 rows reach the limit and go out joined; the non-Arrow item passes as it comes; the
    # rest and the quarantine table go out when the items end, each to its own table.
    assert out[1] == "not arrow"
    assert [t.column("id").to_pylist() for t in out if isinstance(t, pa.Table)] == [
        [f"tr_{i}" for i in range(6)],
        [f"tr_{i}" for i in range(6, 11)],
    ]
    marked = [t for t in out if getattr(t, "meta", None) is not None]
    assert len(marked) == 1 and marked[0].meta.table_name == QUARANTINE_TABLE
    assert marked[0].data.column("record_key").to_pylist() == ["q1"]


def test_coalesced_keeps_the_signature_dlt_inspects() -> None:
    import inspect

    from extract.arrow_rows import coalesced

    def transformer_body(page: list, extra: int = 1):
        yield _ids(0, len(page))

    wrapped = coalesced(transformer_body)
    assert inspect.signature(wrapped) == inspect.signature(transformer_body)
    assert [t.num_rows for t in wrapped([1, 2])] == [2]
