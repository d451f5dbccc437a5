"""The raw table contract: how each Mollie object becomes one typed row of the `mollie` dataset.

Each table is declared once, as a list of fields (column, where in the JSON, kind). The same
declaration maps a record to a row *and* gives dlt its column hints, so a column's type can
never drift from how it is parsed: every amount is DECIMAL (scale 4 where Mollie sends 4
decimals), every instant TIMESTAMPTZ, every date DATE; nothing money-like is left for dlt to infer.

A record that cannot be mapped (unparseable amount, missing id, …) raises `ValueError` naming the
field; the source routes it to the `quarantine` table with that reason and the raw JSON.

Over 500 lines on purpose: two thirds of it are the field lists of the raw tables (`TABLES` and
the field tuples they share), the contract itself; that is declaration, not logic, and reads best
whole next to the mapping rules it uses.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from extract.parse import (
    context_ids,
    flatten_balance_report,
    flatten_periods,
    parse_amount,
    parse_date,
    parse_timestamp,
)

Row = dict[str, Any]

# dlt column hints per kind of field. Money: DECIMAL(18,2), or (18,4) where Mollie sends 4.
MONEY2 = {"data_type": "decimal", "precision": 18, "scale": 2}
MONEY4 = {"data_type": "decimal", "precision": 18, "scale": 4}
HINTS: dict[str, dict[str, Any]] = {
    "text": {"data_type": "text"},
    "id": {"data_type": "text"},
    "int": {"data_type": "bigint"},
    "bool": {"data_type": "bool"},
    "ts": {"data_type": "timestamp", "timezone": True},
    "date": {"data_type": "date"},
    "json": {"data_type": "json"},
    "money2": MONEY2,
    "money4": MONEY4,
    "currency": {"data_type": "text"},
}


@dataclass(frozen=True, slots=True)
class Field:
    column: str
    path: str  # dotted JSON path ("details.consumerAccount"); "" for computed fields
    kind: str  # a key of HINTS; money fields also produce `<column>_currency`
    required: bool = False


def _get(obj: Mapping[str, Any], path: str) -> Any:
    value: Any = obj
    for part in path.split("."):
        # `type(...) is dict` first: decoded JSON is plain dicts, and the Mapping ABC check it
        # skips runs for every field of every record.
        if type(value) is not dict and not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _convert(field: Field, raw: Any, row: Row) -> None:
    if raw is None:
        if field.required:
            raise ValueError(f"{field.path}: required field is missing")
        row[field.column] = None
        if field.kind in ("money2", "money4"):
            row[f"{field.column}_currency"] = None
        return
    kind = field.kind
    if kind in ("money2", "money4"):
        value, currency = parse_amount(raw, field.path)
        scale = 2 if kind == "money2" else 4
        if -value.as_tuple().exponent > scale:
            raise ValueError(f"{field.path}: {raw['value']!r} has more than {scale} decimals")
        row[field.column], row[f"{field.column}_currency"] = value, currency
    elif kind == "ts":
        row[field.column] = parse_timestamp(raw, field.path)
    elif kind == "date":
        row[field.column] = parse_date(raw, field.path)
    elif kind == "int":
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise ValueError(f"{field.path}: expected an integer, got {raw!r}")
        row[field.column] = raw
    elif kind == "json":
        row[field.column] = json.dumps(raw, sort_keys=True, ensure_ascii=False)
    elif kind == "bool":
        row[field.column] = bool(raw)
    else:
        if not isinstance(raw, str | int):
            raise ValueError(f"{field.path}: expected text, got {raw!r}")
        if kind == "id" and (not isinstance(raw, str) or not raw.strip()):
            raise ValueError(f"{field.path}: expected an id, got {raw!r}")
        row[field.column] = str(raw)


@dataclass(frozen=True)
class Table:
    """One raw table: its fields, primary key and how a record becomes its rows."""

    name: str
    fields: tuple[Field, ...]
    grain: str  # what one row is; shown as the Dagster asset description
    primary_key: tuple[str, ...] = ("id",)
    explode: Callable[[Mapping[str, Any]], Iterable[Row]] | None = None  # one record → n rows
    extra_columns: tuple[tuple[str, str], ...] = ()  # (column, kind) set by `explode` or caller
    prepare: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None  # fill quirks first

    def columns(self) -> dict[str, dict[str, Any]]:
        """dlt column hints for every column of the table."""
        cols: dict[str, dict[str, Any]] = {}
        for f in self.fields:
            cols[f.column] = dict(HINTS[f.kind])
            if f.kind in ("money2", "money4"):
                cols[f"{f.column}_currency"] = dict(HINTS["currency"])
        for column, kind in self.extra_columns:
            cols[column] = dict(HINTS[kind])
        for key in self.primary_key:
            cols[key] = {**cols[key], "primary_key": True, "nullable": False}
        return cols

    def rows(self, record: Mapping[str, Any], **context: Any) -> list[Row]:
        """Map one Mollie record (plus context such as `settlement_id`) to its row(s).

        Context wins over a same-named field: in `settlement_payments` the key is the settlement
        whose list returned the record, whatever (or whether) the record says `settlementId`.
        """
        if not isinstance(record, Mapping):
            raise ValueError(f"{self.name}: expected an object, got {type(record).__name__}")
        if self.prepare is not None:
            record = self.prepare(record)
        if self.explode is not None:
            return [{**row, **context} for row in self.explode(record)]
        row: Row = dict(context)
        for f in self.fields:
            _convert(f, _get(record, f.path) if f.path else row.get(f.column), row)
        row.update(context)
        return [row]


def F(column: str, path: str, kind: str = "text", required: bool = False) -> Field:
    return Field(column, path, kind, required)


ID = F("id", "id", "id", required=True)
MODE = F("mode", "mode")
# Required where the incremental walk orders by it (payments, refunds, chargebacks, customers).
CREATED = F("created_at", "createdAt", "ts", required=True)
# Optional where it is not: Mollie's own PHP-SDK samples of a balance transaction and a settlement
# have no createdAt, and a ledger row is worth loading without it (staging dedups on id).
CREATED_IF_ANY = F("created_at", "createdAt", "ts")
METADATA = F("metadata", "metadata", "json")

PAYMENT_FIELDS = (
    ID,
    MODE,
    F("profile_id", "profileId"),
    CREATED,
    F("status", "status", required=True),
    F("paid_at", "paidAt", "ts"),
    F("authorized_at", "authorizedAt", "ts"),
    F("canceled_at", "canceledAt", "ts"),
    F("expired_at", "expiredAt", "ts"),
    F("failed_at", "failedAt", "ts"),
    F("amount", "amount", "money2", required=True),
    F("amount_refunded", "amountRefunded", "money2"),
    F("amount_remaining", "amountRemaining", "money2"),
    F("amount_captured", "amountCaptured", "money2"),
    F("amount_charged_back", "amountChargedBack", "money2"),
    F("settlement_amount", "settlementAmount", "money2"),
    F("method", "method"),
    F("description", "description"),
    F("sequence_type", "sequenceType"),
    F("customer_id", "customerId"),
    F("mandate_id", "mandateId"),
    F("subscription_id", "subscriptionId"),
    F("settlement_id", "settlementId"),
    F("order_id", "orderId"),
    F("capture_mode", "captureMode"),
    F("country_code", "countryCode"),
    F("locale", "locale"),
    F("details", "details", "json"),
    METADATA,
)
REFUND_FIELDS = (
    ID,
    MODE,
    F("payment_id", "paymentId", required=True),
    F("settlement_id", "settlementId"),
    CREATED,
    F("status", "status", required=True),
    F("description", "description"),
    F("amount", "amount", "money2", required=True),
    F("settlement_amount", "settlementAmount", "money2"),
    METADATA,
)
CHARGEBACK_FIELDS = (
    ID,
    F("payment_id", "paymentId", required=True),
    F("settlement_id", "settlementId"),
    CREATED,
    F("reversed_at", "reversedAt", "ts"),
    F("amount", "amount", "money2", required=True),
    F("settlement_amount", "settlementAmount", "money2"),
    F("reason_code", "reason.code"),
    F("reason_description", "reason.description"),
)
CAPTURE_FIELDS = (
    ID,
    MODE,
    F("payment_id", "paymentId", required=True),
    F("settlement_id", "settlementId"),
    CREATED,
    F("status", "status"),
    F("amount", "amount", "money2", required=True),
    F("settlement_amount", "settlementAmount", "money2"),
    METADATA,
)


def _balance_transaction_rows(record: Mapping[str, Any]) -> list[Row]:
    row: Row = {}
    for f in _BALANCE_TRANSACTION_FIELDS:
        _convert(f, _get(record, f.path), row)
    row.update(context_ids(record.get("context")))
    return [row]


_BALANCE_TRANSACTION_FIELDS = (
    ID,
    F("type", "type", required=True),
    CREATED_IF_ANY,
    F("result_amount", "resultAmount", "money2", required=True),
    F("initial_amount", "initialAmount", "money2", required=True),
    F("deductions", "deductions", "money2"),
    F("deduction_fees", "deductionDetails.fees", "money2"),
    F("deduction_reservations", "deductionDetails.reservations", "money2"),
    F("deduction_repayments", "deductionDetails.repayments", "money2"),
    F("deduction_commissions", "deductionDetails.commissions", "money2"),
    F("context", "context", "json"),
)


def _invoice_line_rows(record: Mapping[str, Any]) -> list[Row]:
    invoice_id = _get(record, "id")
    if not isinstance(invoice_id, str) or not invoice_id:
        raise ValueError("id: missing")
    lines = record.get("lines")
    if not isinstance(lines, list):
        raise ValueError("lines: expected a list")
    rows = []
    for n, line in enumerate(lines):
        row: Row = {"invoice_id": invoice_id, "line_number": n}
        for f in _INVOICE_LINE_FIELDS:
            _convert(
                Field(f.column, f"lines.{n}.{f.path}", f.kind, f.required),
                _get(line, f.path) if isinstance(line, Mapping) else None,
                row,
            )
        rows.append(row)
    return rows


_INVOICE_LINE_FIELDS = (
    F("period", "period", required=True),
    F("description", "description"),
    F("count", "count", "int"),
    F("vat_percentage", "vatPercentage", "int"),
    F("amount", "amount", "money2", required=True),
)


_CUSTOMER_HREF = re.compile(r"/customers/(cst_[^/]+)/?$")


def _subscription_with_customer(record: Mapping[str, Any]) -> Mapping[str, Any]:
    """Older payloads omit `customerId`; Mollie's SDK reads it from `_links.customer` too."""
    if record.get("customerId"):
        return record
    match = _CUSTOMER_HREF.search(str(_get(record, "_links.customer.href") or ""))
    return {**record, "customerId": match.group(1)} if match else record


def _period_rows(record: Mapping[str, Any]) -> list[Row]:
    return flatten_periods(record)


def _report_rows(record: Mapping[str, Any]) -> list[Row]:
    return flatten_balance_report(record)


TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "organizations",
            (
                ID,
                F("name", "name"),
                F("email", "email"),
                F("locale", "locale"),
                F("street_and_number", "address.streetAndNumber"),
                F("postal_code", "address.postalCode"),
                F("city", "address.city"),
                F("country", "address.country"),
                F("registration_number", "registrationNumber"),
                F("vat_number", "vatNumber"),
                F("vat_regulation", "vatRegulation"),
            ),
            grain="One row per organization (org_ id): the one the access token belongs to.",
        ),
        Table(
            "profiles",
            (
                ID,
                MODE,
                F("name", "name"),
                F("website", "website"),
                F("email", "email"),
                F("phone", "phone"),
                F("business_category", "businessCategory"),
                F("status", "status"),
                CREATED,
            ),
            grain="One row per website profile (pfl_ id).",
        ),
        Table(
            "balances",
            (
                ID,
                MODE,
                CREATED,
                F("currency", "currency", required=True),
                F("description", "description"),
                F("status", "status"),
                F("transfer_frequency", "transferFrequency"),
                F("transfer_threshold", "transferThreshold", "money2"),
                F("transfer_reference", "transferReference"),
                F("transfer_destination_type", "transferDestination.type"),
                F("transfer_destination_bank_account", "transferDestination.bankAccount"),
                F("transfer_destination_beneficiary", "transferDestination.beneficiaryName"),
                F("available_amount", "availableAmount", "money2", required=True),
                F("pending_amount", "pendingAmount", "money2"),
            ),
            grain=(
                "One row per Mollie balance (bal_ id), one per currency; amounts as of the last "
                "load."
            ),
        ),
        Table(
            "balance_transactions",
            _BALANCE_TRANSACTION_FIELDS,
            grain=(
                "One row per balance transaction (baltr_ id): the immutable ledger, with the ids "
                "from its `context` as columns."
            ),
            explode=_balance_transaction_rows,
            extra_columns=(
                ("balance_id", "id"),
                ("payment_id", "id"),
                ("refund_id", "id"),
                ("chargeback_id", "id"),
                ("capture_id", "id"),
                ("settlement_id", "id"),
                ("transfer_id", "id"),
                ("invoice_id", "id"),
            ),
        ),
        Table(
            "balance_reports",
            (),
            grain=(
                "One row per node of a daily status-balances report: (report_id = "
                "balance:from:until:grouping, path), with depth, discriminators, count and "
                "amount."
            ),
            primary_key=("report_id", "path"),
            explode=_report_rows,
            extra_columns=(
                ("report_id", "id"),
                ("balance_id", "id"),
                ("grouping", "text"),
                ("date_from", "date"),
                ("date_until", "date"),
                ("path", "text"),
                ("parent_path", "text"),
                ("depth", "int"),
                ("transaction_type", "text"),
                ("method", "text"),
                ("prepayment_part_type", "text"),
                ("fee_type", "text"),
                ("card_issuer", "text"),
                ("card_audience", "text"),
                ("card_region", "text"),
                ("count", "int"),
                ("amount", "money4"),
                ("currency", "currency"),
                ("extra", "json"),
            ),
        ),
        Table(
            "settlements",
            (
                ID,
                F("reference", "reference"),
                CREATED_IF_ANY,
                F("settled_at", "settledAt", "ts"),
                F("status", "status"),
                F("amount", "amount", "money2", required=True),
                F("balance_id", "balanceId"),
                F("invoice_id", "invoiceId"),
            ),
            grain="One row per settlement (stl_ id), latest status.",
        ),
        Table(
            "settlement_periods",
            (),
            grain=(
                "One row per line of a settlement's periods: (settlement_id, year, month, kind "
                "revenue|cost, line_no), 4-decimal amounts."
            ),
            primary_key=("settlement_id", "year", "month", "kind", "line_no"),
            explode=_period_rows,
            extra_columns=(
                ("settlement_id", "id"),
                ("year", "int"),
                ("month", "int"),
                ("kind", "text"),
                ("line_no", "int"),
                ("method", "text"),
                ("description", "text"),
                ("count", "int"),
                ("amount_net", "money4"),
                ("amount_vat", "money4"),
                ("amount_gross", "money4"),
                ("rate_fixed", "money4"),
                ("rate_percentage", "money4"),
                ("currency", "currency"),
                ("invoice_id", "id"),
                ("invoice_reference", "text"),
            ),
        ),
        Table(
            "settlement_payments",
            PAYMENT_FIELDS,
            grain="One row per payment a settlement paid out: (settlement_id, id).",
            primary_key=("settlement_id", "id"),
            extra_columns=(("settlement_id", "id"),),
        ),
        Table(
            "settlement_refunds",
            REFUND_FIELDS,
            grain="One row per refund a settlement deducted: (settlement_id, id).",
            primary_key=("settlement_id", "id"),
            extra_columns=(("settlement_id", "id"),),
        ),
        Table(
            "settlement_chargebacks",
            CHARGEBACK_FIELDS,
            grain="One row per chargeback a settlement deducted: (settlement_id, id).",
            primary_key=("settlement_id", "id"),
            extra_columns=(("settlement_id", "id"),),
        ),
        Table(
            "settlement_captures",
            CAPTURE_FIELDS,
            grain="One row per capture a settlement paid out: (settlement_id, id).",
            primary_key=("settlement_id", "id"),
            extra_columns=(("settlement_id", "id"),),
        ),
        Table(
            "invoices",
            (
                ID,
                F("reference", "reference", required=True),
                F("vat_number", "vatNumber"),
                F("status", "status", required=True),
                F("issued_at", "issuedAt", "date"),
                F("paid_at", "paidAt", "date"),
                F("due_at", "dueAt", "date"),
                F("net_amount", "netAmount", "money2", required=True),
                F("vat_amount", "vatAmount", "money2", required=True),
                F("gross_amount", "grossAmount", "money2", required=True),
            ),
            grain="One row per Mollie fee invoice (inv_ id), latest status.",
        ),
        Table(
            "invoice_lines",
            (),
            grain="One row per fee-invoice line: (invoice_id, line_number).",
            primary_key=("invoice_id", "line_number"),
            explode=_invoice_line_rows,
            extra_columns=(
                ("invoice_id", "id"),
                ("line_number", "int"),
                ("period", "text"),
                ("description", "text"),
                ("count", "int"),
                ("vat_percentage", "int"),
                ("amount", "money2"),
                ("amount_currency", "currency"),
            ),
        ),
        Table("payments", PAYMENT_FIELDS, grain="One row per payment (tr_ id), latest status."),
        Table("refunds", REFUND_FIELDS, grain="One row per refund (re_ id), latest status."),
        Table("chargebacks", CHARGEBACK_FIELDS, grain="One row per chargeback (chb_ id)."),
        Table(
            "customers",
            (
                ID,
                MODE,
                CREATED,
                F("name", "name"),
                F("email", "email"),
                F("locale", "locale"),
                METADATA,
            ),
            grain="One row per customer (cst_ id).",
        ),
        Table(
            "subscriptions",
            (
                ID,
                MODE,
                F("customer_id", "customerId", required=True),
                F("profile_id", "profileId"),
                F("mandate_id", "mandateId"),
                CREATED,
                F("canceled_at", "canceledAt", "ts"),
                F("status", "status", required=True),
                F("amount", "amount", "money2", required=True),
                F("times", "times", "int"),
                F("times_remaining", "timesRemaining", "int"),
                F("interval", "interval"),
                F("start_date", "startDate", "date"),
                F("next_payment_date", "nextPaymentDate", "date"),
                F("description", "description"),
                F("method", "method"),
                METADATA,
            ),
            grain="One row per subscription (sub_ id), latest status.",
            prepare=_subscription_with_customer,
        ),
    )
}

# The quarantine table: records that could not be mapped, kept whole so nothing is silently dropped
# (docs/design.md, Principles 3). Merged on `record_key` (a hash of table, context and raw JSON), so
# a re-run that meets the same bad record again does not add a second row.
QUARANTINE_TABLE = "quarantine"
QUARANTINE_COLUMNS: dict[str, dict[str, Any]] = {
    "record_key": {"data_type": "text", "nullable": False, "primary_key": True},
    "table_name": {"data_type": "text", "nullable": False},
    "object_id": {"data_type": "text"},
    "context": {"data_type": "json"},
    "reason": {"data_type": "text", "nullable": False},
    "raw": {"data_type": "text"},
    "quarantined_at": {"data_type": "timestamp", "timezone": True},
}
RAW_LIMIT = 100_000  # characters of raw JSON kept per quarantined record
# Characters of a reason kept (and logged): a reason quotes the bad value, which can be huge.
REASON_LIMIT = 500


def clip_reason(reason: str) -> str:
    """The reason, cut to REASON_LIMIT characters (the raw JSON keeps the whole value)."""
    return reason if len(reason) <= REASON_LIMIT else reason[: REASON_LIMIT - 1] + "…"


def object_id(record: object) -> str | None:
    """The record's id, if it has a usable one (for quarantine rows)."""
    if isinstance(record, Mapping):
        value = record.get("id")
        return value if isinstance(value, str) else None
    return None


def quarantine_row(table: str, record: object, reason: str, **context: Any) -> Row:
    """The quarantine row for a record of `table` that `Table.rows` refused with `reason`."""
    # default=str: the client decodes JSON fractions as Decimal; keep their exact digits.
    raw = json.dumps(record, default=str, ensure_ascii=False, sort_keys=True)
    context_json = json.dumps(context, default=str, sort_keys=True) if context else None
    key = hashlib.sha256(f"{table}\n{context_json}\n{raw}".encode()).hexdigest()
    return {
        "record_key": key,
        "table_name": table,
        "object_id": object_id(record),
        "context": context_json,
        "reason": reason,
        "raw": raw[:RAW_LIMIT],
        "quarantined_at": datetime.now(UTC),
    }


def money_columns(table: Table) -> list[str]:
    """The table's DECIMAL columns (amounts), from its declaration."""
    return [name for name, hint in table.columns().items() if hint["data_type"] == "decimal"]
