"""Pure parsing of Mollie JSON: exact money, UTC timestamps, and the flattenings the raw tables use.

Money is `decimal.Decimal` built from Mollie's amount *strings*, with the scale Mollie sent
("86.1000" keeps 4 decimals); a float never appears. Every parser raises `ValueError` naming the
offending field, which extract/records.py turns into the reason a record is quarantined instead
of loaded (nothing is silently dropped: docs/design.md, Principles 3).

Quirks handled (Mollie's spec, its examples and its SDKs' fixtures disagree): month keys "4" and
"04"; timestamps with "+00:00" or ".0Z"; `balance_transaction` vs `balance-transaction`; flat vs
type-nested transaction `context`; both balance-report groupings with `{}` categories and
recursive `subtotals`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

_DECIMAL_RE = re.compile(r"-?\d+(?:\.\d+)?")
_CURRENCY_RE = re.compile(r"[A-Z]{3}")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")

Row = dict[str, Any]


# -- scalars --------------------------------------------------------------------------------


def parse_decimal(value: object, field: str) -> Decimal:
    """Parse a decimal string such as "-0.0609" exactly, keeping its scale.

    Args:
        value: the raw value; must be a string ("1,00", "abc", "1e3" and numbers are refused).
        field: name used in the error message.

    Raises:
        ValueError: naming `field`.
    """
    if not isinstance(value, str) or not _DECIMAL_RE.fullmatch(value):
        raise ValueError(f"{field}: expected a decimal string like '10.00', got {value!r}")
    return Decimal(value)


def parse_amount(obj: object, field: str = "amount") -> tuple[Decimal, str]:
    """Parse a Mollie amount `{"currency": "EUR", "value": "10.00"}`.

    Args:
        obj: the amount object.
        field: name used in error messages, e.g. "periods.2024.04.revenue.0.amountNet".

    Returns:
        (value as Decimal with Mollie's scale, ISO currency code).

    Raises:
        ValueError: not an object, value not a decimal string, or currency not 3 capitals.
    """
    if not isinstance(obj, Mapping):
        raise ValueError(f"{field}: expected an amount object, got {obj!r}")
    value = parse_decimal(obj.get("value"), f"{field}.value")
    currency = obj.get("currency")
    if not isinstance(currency, str) or not _CURRENCY_RE.fullmatch(currency):
        raise ValueError(f"{field}.currency: expected a code like 'EUR', got {currency!r}")
    return value, currency


def parse_optional_amount(obj: object, field: str = "amount") -> tuple[Decimal | None, str | None]:
    """Like `parse_amount`, but a null/absent amount gives (None, None)."""
    return (None, None) if obj is None else parse_amount(obj, field)


def parse_timestamp(value: object, field: str = "timestamp") -> datetime:
    """Parse an ISO 8601 timestamp with offset into an aware UTC datetime.

    Accepts both of Mollie's styles, `2024-03-20T09:13:37+00:00` and `2018-04-06T06:00:01.0Z`.

    Raises:
        ValueError: not a string, no time part, no offset, or an impossible date.
    """
    if not isinstance(value, str) or "T" not in value:
        raise ValueError(f"{field}: expected an ISO 8601 timestamp, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{field}: {value!r} is not a valid ISO 8601 timestamp") from None
    if parsed.tzinfo is None:
        raise ValueError(f"{field}: {value!r} has no UTC offset")
    return parsed.astimezone(UTC)


def parse_date(value: object, field: str = "date") -> date:
    """Parse a `YYYY-MM-DD` date (invoice `issuedAt`, report `from`/`until`, `startDate`).

    Raises:
        ValueError: not a string in that form, or an impossible date.
    """
    if not isinstance(value, str) or not _DATE_RE.fullmatch(value):
        raise ValueError(f"{field}: expected a date YYYY-MM-DD, got {value!r}")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{field}: {value!r} is not a valid date") from None


def _parse_temporal(value: object, field: str) -> date | datetime:
    """A `*At`/`*Date` field: a timestamp, or a date where Mollie sends date-only values."""
    if isinstance(value, str) and "T" not in value:
        return parse_date(value, field)
    return parse_timestamp(value, field)


def _optional_int(value: object, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{field}: expected an integer, got {value!r}")
    return value


def _int_key(key: object, field: str, low: int, high: int) -> int:
    """A numeric JSON object key ("2024", "4", "04") as an int within [low, high]."""
    if not isinstance(key, str) or not key.isdigit() or not low <= int(key) <= high:
        raise ValueError(f"{field}: expected a number {low}-{high}, got key {key!r}")
    return int(key)


def _object(value: object, field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{field}: expected an object, got {type(value).__name__}")
    return value


def _list(value: object, field: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"{field}: expected a list, got {type(value).__name__}")
    return value


def _single_currency(field: str, *currencies: str | None) -> str:
    found = {c for c in currencies if c is not None}
    if len(found) != 1:
        raise ValueError(f"{field}: expected one currency, got {sorted(found)}")
    return found.pop()


# -- settlement periods ---------------------------------------------------------------------


def flatten_periods(settlement: Mapping[str, Any]) -> list[Row]:
    """Flatten a settlement's `periods` (year → month → revenue/costs) into one row per line.

    Month keys "4" and "04" both give month 4. PHP-encoded empty maps (`[]`) are accepted.

    Args:
        settlement: the settlement object.

    Returns:
        Rows with settlement_id, year, month, kind ('revenue'|'cost'), line_no (position within
        kind), method, description, count, amount_net, amount_vat, amount_gross, rate_fixed,
        rate_percentage, currency, invoice_id, invoice_reference. Amounts are Decimal with the
        4 decimals Mollie sends.

    Raises:
        ValueError: naming the first malformed field.
    """
    settlement_id = settlement.get("id")
    periods = settlement.get("periods")
    if periods in (None, [], {}):
        return []
    rows: list[Row] = []
    for year_key, months in _object(periods, "periods").items():
        year = _int_key(year_key, f"periods.{year_key}", 1900, 9999)
        if months in ([], {}):
            continue
        for month_key, period in _object(months, f"periods.{year_key}").items():
            where = f"periods.{year_key}.{month_key}"
            lines = _object(period, where)
            base = {
                "settlement_id": settlement_id,
                "year": year,
                "month": _int_key(month_key, where, 1, 12),
                "invoice_id": lines.get("invoiceId"),
                "invoice_reference": lines.get("invoiceReference"),
            }
            for kind, key in (("revenue", "revenue"), ("cost", "costs")):
                for line_no, line in enumerate(_list(lines.get(key), f"{where}.{key}")):
                    line_where = f"{where}.{key}.{line_no}"
                    rows.append(
                        {**base, "kind": kind, "line_no": line_no}
                        | _period_line(_object(line, line_where), line_where)
                    )
    return rows


def _period_line(line: Mapping[str, Any], where: str) -> Row:
    net, net_currency = parse_amount(line.get("amountNet"), f"{where}.amountNet")
    vat, vat_currency = parse_optional_amount(line.get("amountVat"), f"{where}.amountVat")
    gross, gross_currency = parse_amount(line.get("amountGross"), f"{where}.amountGross")
    rate = _object(line.get("rate") or {}, f"{where}.rate")
    fixed, fixed_currency = parse_optional_amount(rate.get("fixed"), f"{where}.rate.fixed")
    return {
        "method": line.get("method"),
        "description": line.get("description"),
        "count": _optional_int(line.get("count"), f"{where}.count"),
        "amount_net": net,
        "amount_vat": vat,
        "amount_gross": gross,
        "rate_fixed": fixed,
        "rate_percentage": _percentage(rate.get("percentage"), f"{where}.rate.percentage"),
        "currency": _single_currency(
            where, net_currency, vat_currency, gross_currency, fixed_currency
        ),
    }


def _percentage(value: object, field: str) -> Decimal | None:
    """A rate percentage: a string in Mollie's OpenAPI spec; a JSON number is accepted if exact
    (int/Decimal)."""
    if value is None:
        return None
    if isinstance(value, Decimal) or (isinstance(value, int) and not isinstance(value, bool)):
        return Decimal(value)
    return parse_decimal(value, field)


# -- balance reports ------------------------------------------------------------------------

# Sub-total discriminators (the OpenAPI spec's `sub-totals-2`) → column names.
_DISCRIMINATORS = {
    "transactionType": "transaction_type",
    "method": "method",
    "prepaymentPartType": "prepayment_part_type",
    "feeType": "fee_type",
    "cardIssuer": "card_issuer",
    "cardAudience": "card_audience",
    "cardRegion": "card_region",
}
# The OpenAPI spec's schema calls the recursive key `sub-totals`; every example and fixture uses
# `subtotals`.
_SUBTOTAL_KEYS = ("subtotals", "sub-totals")
_NODE_KEYS = {"amount", "count", *_SUBTOTAL_KEYS, *_DISCRIMINATORS}


def balance_report_id(report: Mapping[str, Any]) -> str:
    """A stable id for a report: `<balanceId>:<from>:<until>:<grouping>`.

    Raises:
        ValueError: a part is missing.
    """
    parts = [report.get(key) for key in ("balanceId", "from", "until", "grouping")]
    if not all(isinstance(p, str) and p for p in parts):
        raise ValueError(f"balance report: balanceId, from, until and grouping needed, got {parts}")
    return ":".join(parts)  # type: ignore[arg-type]


def flatten_balance_report(report: Mapping[str, Any]) -> list[Row]:
    """Flatten a balance report's `totals` into one row per node, for either grouping.

    `status-balances`: totals.pendingBalance.{open, pending, movedToAvailable, close} and
    totals.availableBalance.{…}. `transaction-categories`: totals.open/close.{pending,
    available} and totals.<category>.{pending, movedToAvailable, immediatelyAvailable}, where a
    category can be `{}` (it yields no rows). Each sub-group is a node at depth 0 with path
    "pendingBalance.pending"; its `subtotals` are nodes "pendingBalance.pending.0" (depth 1),
    "pendingBalance.pending.0.1" (depth 2), and so on, at any depth.

    Args:
        report: the balance-report object.

    Returns:
        Rows with report_id, balance_id, grouping, date_from, date_until, path, parent_path,
        depth, transaction_type, method, prepayment_part_type, fee_type, card_issuer,
        card_audience, card_region, count, amount (Decimal), currency, extra (JSON of any
        unknown discriminators, else None).

    Raises:
        ValueError: naming the first malformed field (e.g. the stub `{"some_data": "..."}`).
    """
    report_id = balance_report_id(report)
    base = {
        "report_id": report_id,
        "balance_id": report["balanceId"],
        "grouping": report["grouping"],
        "date_from": parse_date(report["from"], "from"),
        "date_until": parse_date(report["until"], "until"),
    }
    rows: list[Row] = []
    for category, subgroups in _object(report.get("totals"), "totals").items():
        for name, node in _object(subgroups, f"totals.{category}").items():
            _walk_node(node, f"{category}.{name}", None, 0, base, rows)
    return rows


def _walk_node(
    node: object, path: str, parent: str | None, depth: int, base: Row, rows: list[Row]
) -> None:
    node = _object(node, f"totals.{path}")
    amount, currency = parse_amount(node.get("amount"), f"totals.{path}.amount")
    extra = {k: v for k, v in node.items() if k not in _NODE_KEYS}
    rows.append(
        {
            **base,
            "path": path,
            "parent_path": parent,
            "depth": depth,
            **{column: node.get(key) for key, column in _DISCRIMINATORS.items()},
            "count": _optional_int(node.get("count"), f"totals.{path}.count"),
            "amount": amount,
            "currency": currency,
            "extra": json.dumps(extra, sort_keys=True, default=str) if extra else None,
        }
    )
    children = next((node[k] for k in _SUBTOTAL_KEYS if k in node), None)
    for index, child in enumerate(_list(children, f"totals.{path}.subtotals")):
        _walk_node(child, f"{path}.{index}", path, depth + 1, base, rows)


# -- balance-transaction context ------------------------------------------------------------

_CONTEXT_IDS = {
    "paymentId": "payment_id",
    "refundId": "refund_id",
    "chargebackId": "chargeback_id",
    "captureId": "capture_id",
    "settlementId": "settlement_id",
    "transferId": "transfer_id",
    "invoiceId": "invoice_id",
}


def context_ids(context: Mapping[str, Any] | None) -> dict[str, str | None]:
    """The known ids in a balance transaction's `context`, as flat columns.

    Handles the flat form every example uses (`{"paymentId": "tr_…", "refundId": "re_…"}`) and
    the OpenAPI spec's form nested by type (`{"refund": {"paymentId": …, "refundId": …}}`).
    Other keys (descriptions and the like) are ignored here; the raw `context` is kept as JSON.

    Returns:
        payment_id, refund_id, chargeback_id, capture_id, settlement_id, transfer_id,
        invoice_id; None where absent.

    Raises:
        ValueError: context not an object, an id not a string, or one id given two values.
    """
    ids: dict[str, str | None] = dict.fromkeys(_CONTEXT_IDS.values())
    if context is None:
        return ids
    pairs: list[tuple[str, str, object]] = []
    for key, value in _object(context, "context").items():
        if isinstance(value, Mapping):
            pairs.extend((f"context.{key}.{k}", k, v) for k, v in value.items())
        else:
            pairs.append((f"context.{key}", key, value))
    for where, key, value in pairs:
        column = _CONTEXT_IDS.get(key)
        if column is None or value is None:
            continue
        if not isinstance(value, str):
            raise ValueError(f"{where}: expected an id string, got {value!r}")
        if ids[column] not in (None, value):
            raise ValueError(f"{where}: {value!r} contradicts {ids[column]!r}")
        ids[column] = value
    return ids


# -- quarantine -----------------------------------------------------------------------------


def canonical_resource(name: str) -> str:
    """Normalise resource and table names: "balance-transaction", "balance_transaction" and
    "balance_transactions" all become "balance_transaction" (the fixtures and the OpenAPI spec
    disagree)."""
    name = name.strip().lower().replace("-", "_")
    return name[:-1] if name.endswith("s") else name
