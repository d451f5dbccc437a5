"""Pure parsers: exact amounts, UTC timestamps, settlement periods, balance reports, context ids,
quarantine reasons."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from mollie_fakes import load_sample

from extract.parse import (
    canonical_resource,
    context_ids,
    flatten_balance_report,
    flatten_periods,
    parse_amount,
    parse_date,
    parse_optional_amount,
    parse_timestamp,
)

PERIOD_MONEY = ("amount_net", "amount_vat", "amount_gross", "rate_fixed")

# -- amounts -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("10.00", "10.00"), ("-43.2000", "-43.2000"), ("-0.0609", "-0.0609"), ("0", "0")],
)
def test_parse_amount_exact(value: str, expected: str) -> None:
    parsed, currency = parse_amount({"currency": "EUR", "value": value})
    assert isinstance(parsed, Decimal)
    assert str(parsed) == expected  # the scale Mollie sent is kept
    assert currency == "EUR"


@pytest.mark.parametrize("value", ["1,00", "abc", "", "1e3", " 1.00", "NaN", 10.0, 10, None])
def test_parse_amount_rejects(value: object) -> None:
    with pytest.raises(ValueError, match=r"^settlement\.amount\.value: "):
        parse_amount({"currency": "EUR", "value": value}, "settlement.amount")


@pytest.mark.parametrize(
    "obj", [None, "10.00", {"value": "1.00"}, {"value": "1", "currency": "eur"}]
)
def test_parse_amount_rejects_bad_objects(obj: object) -> None:
    with pytest.raises(ValueError, match=r"^amount"):
        parse_amount(obj)


def test_parse_optional_amount() -> None:
    assert parse_optional_amount(None) == (None, None)
    assert parse_optional_amount({"currency": "GBP", "value": "1.5"}) == (Decimal("1.5"), "GBP")


# -- timestamps and dates --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-03-20T09:13:37+00:00", datetime(2024, 3, 20, 9, 13, 37, tzinfo=UTC)),
        ("2018-04-06T06:00:01.0Z", datetime(2018, 4, 6, 6, 0, 1, tzinfo=UTC)),
        ("2024-03-20T11:13:37+02:00", datetime(2024, 3, 20, 9, 13, 37, tzinfo=UTC)),
    ],
)
def test_parse_timestamp(raw: str, expected: datetime) -> None:
    parsed = parse_timestamp(raw)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "raw", ["2024-03-20T09:13:37", "2024-03-20", "2024-04-31T12:50:14+00:00", "yesterday", 17]
)
def test_parse_timestamp_rejects(raw: object) -> None:
    with pytest.raises(ValueError, match=r"^createdAt: "):
        parse_timestamp(raw, "createdAt")


def test_parse_date() -> None:
    assert parse_date("2024-01-31") == date(2024, 1, 31)
    for bad in ("2024-02-30", "2024-1-3", "2024-01-31T00:00:00+00:00"):
        with pytest.raises(ValueError, match=r"^issuedAt: "):
            parse_date(bad, "issuedAt")


# -- settlement periods ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sample", "year", "refund_gross", "invoice_id"),
    [
        ("settlement_single.json", 2018, "43.2000", "inv_xBEbP9rvAq"),  # month key "4"
        ("mollie-api-php/settlement.json", 2024, "-43.2000", "inv_FrvewDA3Pr"),  # month key "04"
    ],
)
def test_flatten_periods_samples(
    sample: str, year: int, refund_gross: str, invoice_id: str
) -> None:
    settlement = load_sample(sample)
    rows = flatten_periods(settlement)
    assert len(rows) == 4
    assert {(r["year"], r["month"]) for r in rows} == {(year, 4)}
    assert [(r["kind"], r["line_no"], r["method"]) for r in rows] == [
        ("revenue", 0, "ideal"),
        ("revenue", 1, "refund"),
        ("cost", 0, "ideal"),
        ("cost", 1, "refund"),
    ]
    ideal, refund, ideal_cost, _ = rows
    assert str(ideal["amount_net"]) == "86.1000"
    assert ideal["amount_vat"] is None
    assert str(refund["amount_net"]) == "-43.2000"
    assert str(refund["amount_gross"]) == refund_gross  # the SDK/spec sign quirk is preserved
    assert ideal_cost["rate_fixed"] == Decimal("0.3500")
    assert ideal_cost["rate_percentage"] is None
    assert str(ideal_cost["amount_vat"]) == "0.4410"
    assert ideal_cost["count"] == 6
    for row in rows:
        assert row["settlement_id"] == settlement["id"]
        assert row["currency"] == "EUR"
        assert row["invoice_id"] == invoice_id
        for column in PERIOD_MONEY:
            assert row[column] is None or isinstance(row[column], Decimal)


def test_flatten_periods_empty_and_percentage() -> None:
    assert flatten_periods({"id": "stl_1"}) == []
    assert flatten_periods({"id": "stl_1", "periods": []}) == []  # PHP's empty map
    listed = load_sample("settlements_list.json")["_embedded"]["settlements"][0]
    assert flatten_periods(listed) == []  # empty revenue and costs
    cost = {
        "description": "Credit card",
        "method": "creditcard",
        "count": 1,
        "rate": {"fixed": {"currency": "EUR", "value": "0.2500"}, "percentage": "1.80"},
        "amountNet": {"currency": "EUR", "value": "0.4300"},
        "amountVat": {"currency": "EUR", "value": "0.0903"},
        "amountGross": {"currency": "EUR", "value": "0.5203"},
    }
    settlement = {"id": "stl_2", "periods": {"2024": {"12": {"costs": [cost]}}}}
    [row] = flatten_periods(settlement)
    assert (row["month"], row["rate_percentage"]) == (12, Decimal("1.80"))
    cost["rate"]["percentage"] = Decimal("1.8")  # a JSON number, decoded exactly by the client
    assert flatten_periods(settlement)[0]["rate_percentage"] == Decimal("1.8")
    cost["rate"]["percentage"] = 1.8  # a float never passes
    with pytest.raises(ValueError, match=r"rate\.percentage"):
        flatten_periods(settlement)
    assert row["invoice_id"] is None and row["invoice_reference"] is None


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda p: p["2024"].update({"13": p["2024"].pop("04")}), "periods.2024"),
        (lambda p: p.update({"20x4": p.pop("2024")}), "periods.20x4"),
        (
            lambda p: p["2024"]["04"]["revenue"][0]["amountNet"].update(value="86,10"),
            "periods.2024.04.revenue.0.amountNet.value",
        ),
        (
            lambda p: p["2024"]["04"]["costs"][1]["amountVat"].update(currency="USD"),
            "periods.2024.04.costs.1",
        ),
    ],
)
def test_flatten_periods_errors_name_the_field(mutate: Any, field: str) -> None:
    settlement = load_sample("mollie-api-php/settlement.json")
    mutate(settlement["periods"])
    with pytest.raises(ValueError, match=f"^{field.replace('.', '[.]')}"):
        flatten_periods(settlement)


# -- balance reports -------------------------------------------------------------------------


def test_flatten_balance_report_transaction_categories() -> None:
    report = load_sample("mollie-api-php/balance-report.json")
    rows = flatten_balance_report(report)
    by_path = {row["path"]: row for row in rows}
    assert list(by_path) == [
        "open.available",
        "open.pending",
        "payments.immediatelyAvailable",
        "payments.pending",
        "payments.pending.0",
        "payments.pending.0.0",
        "payments.movedToAvailable",
        "fee-prepayments.immediatelyAvailable",
        "fee-prepayments.movedToAvailable",
        "fee-prepayments.movedToAvailable.0",
        "fee-prepayments.movedToAvailable.0.0",
        "fee-prepayments.movedToAvailable.1",
        "fee-prepayments.movedToAvailable.2",
        "fee-prepayments.pending",
        "close.available",
        "close.pending",
    ]  # the `{}` categories (refunds, capital, chargebacks, …) give no rows
    payment = by_path["payments.pending.0"]
    assert (payment["transaction_type"], payment["count"], payment["depth"]) == ("payment", 1, 1)
    assert payment["parent_path"] == "payments.pending"
    method = by_path["payments.pending.0.0"]
    assert (method["method"], method["depth"], method["parent_path"]) == (
        "ideal",
        2,
        "payments.pending.0",
    )
    fee = by_path["fee-prepayments.movedToAvailable.0.0"]
    assert (fee["fee_type"], fee["method"], fee["amount"]) == (
        "payment-fee",
        "ideal",
        Decimal("-0.29"),
    )
    vat = by_path["fee-prepayments.movedToAvailable.1"]
    assert vat["prepayment_part_type"] == "fee-vat"
    assert str(vat["amount"]) == "-0.0609" and vat["count"] is None
    top = by_path["open.available"]
    assert (top["depth"], top["parent_path"]) == (0, None)
    for row in rows:
        assert isinstance(row["amount"], Decimal)
        assert row["currency"] == "EUR"
        assert row["report_id"] == "{{ RESOURCE_ID }}:2024-01-01:2024-01-31:transaction-categories"
        assert (row["date_from"], row["date_until"]) == (date(2024, 1, 1), date(2024, 1, 31))
        assert row["extra"] is None


def _amount(value: str) -> dict[str, str]:
    return {"currency": "EUR", "value": value}


def test_flatten_balance_report_status_balances() -> None:
    report = {
        "resource": "balance-report",
        "balanceId": "bal_1",
        "from": "2024-01-01",
        "until": "2024-02-01",
        "grouping": "status-balances",
        "totals": {
            "pendingBalance": {
                "open": {"amount": _amount("5.21")},
                "pending": {
                    "amount": _amount("4380.51"),
                    "count": 82,
                    "subtotals": [
                        {
                            "transactionType": "payment",
                            "count": 82,
                            "amount": _amount("4382.75"),
                            "subtotals": [
                                {
                                    "method": "creditcard",
                                    "count": 1,
                                    "amount": _amount("10.00"),
                                    "subtotals": [
                                        {
                                            "cardIssuer": "amex",
                                            "cardAudience": "other",
                                            "cardRegion": "intra-eea",
                                            "count": 1,
                                            "amount": _amount("10.00"),
                                        }
                                    ],
                                }
                            ],
                        },
                        {"transactionType": "fee-prepayment", "amount": _amount("-2.239")},
                    ],
                },
                "close": {"amount": _amount("3305.41")},
            },
            "availableBalance": {
                "immediatelyAvailable": {
                    "amount": _amount("-1078.74"),
                    "sub-totals": [  # the OpenAPI spec's spelling is accepted too
                        {"transactionType": "outgoing-transfer", "amount": _amount("-1080.00")}
                    ],
                }
            },
        },
    }
    rows = {row["path"]: row for row in flatten_balance_report(report)}
    assert list(rows) == [
        "pendingBalance.open",
        "pendingBalance.pending",
        "pendingBalance.pending.0",
        "pendingBalance.pending.0.0",
        "pendingBalance.pending.0.0.0",
        "pendingBalance.pending.1",
        "pendingBalance.close",
        "availableBalance.immediatelyAvailable",
        "availableBalance.immediatelyAvailable.0",
    ]
    card = rows["pendingBalance.pending.0.0.0"]
    assert (card["card_issuer"], card["card_audience"], card["card_region"]) == (
        "amex",
        "other",
        "intra-eea",
    )
    assert card["depth"] == 3 and card["parent_path"] == "pendingBalance.pending.0.0"
    assert str(rows["pendingBalance.pending.1"]["amount"]) == "-2.239"
    assert (
        rows["availableBalance.immediatelyAvailable.0"]["transaction_type"] == "outgoing-transfer"
    )
    assert rows["pendingBalance.open"]["report_id"] == "bal_1:2024-01-01:2024-02-01:status-balances"


def test_flatten_balance_report_keeps_unknown_discriminators() -> None:
    report = {
        "balanceId": "bal_1",
        "from": "2024-01-01",
        "until": "2024-01-02",
        "grouping": "transaction-categories",
        "totals": {"payments": {"pending": {"amount": _amount("1.00"), "newThing": "x"}}},
    }
    [row] = flatten_balance_report(report)
    assert row["extra"] == '{"newThing": "x"}'


def test_flatten_balance_report_rejects_the_stub() -> None:
    with pytest.raises(ValueError, match=r"^totals\.some_data: expected an object"):
        flatten_balance_report(load_sample("balance_report_single.json"))


# -- balance-transaction context -------------------------------------------------------------


NO_IDS = dict.fromkeys(
    [
        "payment_id",
        "refund_id",
        "chargeback_id",
        "capture_id",
        "settlement_id",
        "transfer_id",
        "invoice_id",
    ]
)


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        (None, {}),
        ({}, {}),
        (
            {"paymentId": "tr_1", "refundId": "re_1", "refundDescription": "x"},
            {"payment_id": "tr_1", "refund_id": "re_1"},
        ),
        (
            {"settlementId": "stl_1", "transferId": "trf_1"},
            {"settlement_id": "stl_1", "transfer_id": "trf_1"},
        ),
        ({"invoiceId": "inv_1"}, {"invoice_id": "inv_1"}),
        # The OpenAPI spec's form, nested under type-named keys.
        (
            {"refund": {"paymentId": "tr_1", "refundId": "re_1"}},
            {"payment_id": "tr_1", "refund_id": "re_1"},
        ),
        (
            {
                "payment": {"paymentId": "tr_1"},
                "chargeback": {"paymentId": "tr_1", "chargebackId": "chb_1"},
            },
            {"payment_id": "tr_1", "chargeback_id": "chb_1"},
        ),
        (
            {"capture": {"paymentId": "tr_1", "captureId": "cpt_1"}},
            {"payment_id": "tr_1", "capture_id": "cpt_1"},
        ),
    ],
)
def test_context_ids(context: dict[str, Any] | None, expected: dict[str, str]) -> None:
    assert context_ids(context) == NO_IDS | expected


def test_context_ids_rejects_contradictions() -> None:
    with pytest.raises(ValueError, match=r"^context\.refund\.paymentId"):
        context_ids({"paymentId": "tr_1", "refund": {"paymentId": "tr_2"}})
    with pytest.raises(ValueError, match=r"^context\.paymentId"):
        context_ids({"paymentId": 12})
    with pytest.raises(ValueError, match=r"^context"):
        context_ids("tr_1")  # type: ignore[arg-type]


# -- quarantine ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["balance-transaction", "balance_transaction", "balance_transactions", "Balance-Transactions"],
)
def test_canonical_resource(name: str) -> None:
    assert canonical_resource(name) == "balance_transaction"


def _transaction(**changes: Any) -> dict[str, Any]:
    record = load_sample("balance_transactions_list.json")["_embedded"]["balance_transactions"][0]
    record.update(changes)
    return record
