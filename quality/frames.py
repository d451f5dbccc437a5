"""The pandas frames a table's suite validates, and the `layers` frame's measures.

Great Expectations validates pandas frames (its DuckDB support is unofficial and broken), so a
suite never sees the table directly; it sees up to three frames, chosen per expectation by
`meta.frame`:

- ``rows`` (quality.foreign_keys): the table, one row per row, plus helper columns computed in
  SQL: `<fk>_exists` for each foreign key (NULL when the key is NULL) and a few table-specific
  flags (a journal line's account is in the chart, its entry balances). Money never reaches
  pandas as a float: DECIMAL columns arrive as their exact text ("-0.29"), so GX can check signs
  and scale by regex; dates arrive as UTC timestamps so every temporal bound compares the same
  way.
- ``columns`` (quality.pii_scan, its detectors in quality.pii_functions): the privacy scan, one
  row per text column of every table the suite is responsible for (its own table and the raw or
  intermediate tables it owns, see `scan_scope`), with counts of card-number-like, clear e-mail,
  clear IBAN, known-PII and invalid-IBAN values. Only a masked card number ever leaves SQL.
- ``layers`` (here, next to the frame building so that open edits of the measures merge onto
  this file): integrity in the dbt_stripe style, one row per measure (row count, amount sum)
  with the upstream layer's value and this table's value as exact text, so equality is decided
  by DuckDB's DECIMAL arithmetic, never by floats.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import duckdb

from extract.records import TABLES
from quality.foreign_keys import DERIVED, FOREIGN_KEYS, rows_sql
from quality.pii_scan import columns_frame
from quality.tables import literal as _literal
from transforms.models import table_references

if TYPE_CHECKING:  # pandas takes ~2 s to import; the Dagster definitions import this module
    import pandas as pd

FRAME_KINDS = ("rows", "columns", "layers")


# -- integrity between layers (the `layers` frame) -----------------------------------------------


@dataclass(frozen=True)
class Measure:
    """One number computed twice: from the layer below and from this table (scalar SQL)."""

    name: str
    upstream: str
    here: str
    money: bool = False


def _latest(raw: str, key: str, column: str) -> str:
    # The raw table may hold several loads of one object: take each object's latest version,
    # independently of how the staging model deduplicates (group by, not a window);
    # arg_max_null keeps a latest NULL instead of reaching back to an older load's value.
    return (
        f"(select coalesce(sum(v), 0) from (select arg_max_null({column}, _dlt_load_id) as v "
        f"from {raw} group by {key}))"
    )


def _raw_to_staging(table: str, amounts: Iterable[tuple[str, str]] = ()) -> tuple[Measure, ...]:
    """Rows and money sums of raw `mollie.<table>` (latest row per primary key) vs its staging."""
    raw, staging = f"mollie.{table}", f"staging.stg_mollie__{table}"
    key = ", ".join(TABLES[table].primary_key)  # the raw table contract's own key
    measures = [Measure("rows", f"(select count(distinct ({key})) from {raw})", _count(staging))]
    for raw_column, staging_column in amounts:
        measures.append(
            Measure(
                f"sum({staging_column})",
                _latest(raw, key, raw_column),
                _sum(staging, staging_column),
                money=True,
            )
        )
    return tuple(measures)


# Money whose sum must survive raw → staging, per raw table: (raw expression, staging column).
_AMOUNT = [("amount", "amount")]
_STAGED_SUMS: dict[str, list[tuple[str, str]]] = {
    "balance_reports": _AMOUNT,
    "balance_transactions": [
        ("initial_amount", "initial_amount"),
        ("coalesce(deductions, 0)", "deductions"),
        ("result_amount", "result_amount"),
    ],
    "balances": [],
    "chargebacks": _AMOUNT,
    "customers": [],
    "invoice_lines": _AMOUNT,
    "invoices": [("gross_amount", "gross_amount")],
    "organizations": [],
    "payments": _AMOUNT,
    "profiles": [],
    "refunds": _AMOUNT,
    "settlement_captures": _AMOUNT,
    "settlement_chargebacks": _AMOUNT,
    "settlement_payments": _AMOUNT,
    "settlement_periods": [("amount_gross", "amount_gross")],
    "settlement_refunds": _AMOUNT,
    "settlements": _AMOUNT,
    "subscriptions": _AMOUNT,
}


def _count(table: str, where: str = "true") -> str:
    return f"(select count(*) from {table} where {where})"


def _sum(table: str, expression: str, where: str = "true") -> str:
    return f"(select coalesce(sum({expression}), 0) from {table} where {where})"


_LEDGER = "staging.stg_mollie__balance_transactions"
_CATEGORISED = "intermediate.int_ledger__categorised"
# What Mollie charged on a ledger row: its fee deduction, plus the gross of a fee row (payment-fee,
# …) or of invoice compensation.
_CHARGED = "fee_deduction + case when category in ('fee', 'compensation') then gross else 0 end"
INTEGRITY: dict[str, tuple[Measure, ...]] = {
    "stg_bank__statement_lines": (
        Measure(
            "rows",
            _count("bank.statement_lines", "amount is not null"),
            _count("staging.stg_bank__statement_lines"),
        ),
        Measure(
            "sum(amount)",
            _sum("bank.statement_lines", "amount"),
            _sum("staging.stg_bank__statement_lines", "amount"),
            money=True,
        ),
    ),
    **{f"stg_mollie__{t}": _raw_to_staging(t, sums) for t, sums in _STAGED_SUMS.items()},
    "balance_ledger": (
        Measure("rows", _count(_LEDGER), _count("marts.balance_ledger")),
        Measure(
            "sum(gross)",
            _sum(_LEDGER, "initial_amount"),
            _sum("marts.balance_ledger", "gross"),
            money=True,
        ),
        Measure(
            "sum(deductions)",
            _sum(_LEDGER, "deductions"),
            _sum("marts.balance_ledger", "fee + reservation + repayment + commission"),
            money=True,
        ),
        Measure(
            "sum(net)",
            _sum(_LEDGER, "result_amount"),
            _sum("marts.balance_ledger", "net"),
            money=True,
        ),
    ),
    "settlement_reconciliation": (
        Measure(
            "rows",
            _count("staging.stg_mollie__settlements", "settlement_id like 'stl_%'"),
            _count("marts.settlement_reconciliation"),
        ),
        Measure(
            "sum(amount)",
            _sum("staging.stg_mollie__settlements", "amount", "settlement_id like 'stl_%'"),
            _sum("marts.settlement_reconciliation", "amount"),
            money=True,
        ),
    ),
    "daily_overview": (
        Measure(
            "sum(sales)",
            _sum(_CATEGORISED, "gross", "category = 'payment'"),
            _sum("marts.daily_overview", "sales"),
            money=True,
        ),
        Measure(
            "sum(fees)",
            _sum(_CATEGORISED, _CHARGED),
            _sum("marts.daily_overview", "fees"),
            money=True,
        ),
        Measure(
            "sum(payouts)",
            _sum(_CATEGORISED, "-net", "category = 'payout'"),
            _sum("marts.daily_overview", "payouts"),
            money=True,
        ),
        Measure(
            "last ending_balance",
            _sum(_CATEGORISED, "net"),
            "(select coalesce(sum(ending_balance), 0) from (select ending_balance "
            "from marts.daily_overview "
            "qualify row_number() over (partition by currency order by day desc) = 1))",
            money=True,
        ),
    ),
    "chargeback_cases": (
        Measure(
            "rows", _count("staging.stg_mollie__chargebacks"), _count("marts.chargeback_cases")
        ),
        Measure(
            "sum(amount)",
            _sum("staging.stg_mollie__chargebacks", "amount"),
            _sum("marts.chargeback_cases", "amount"),
            money=True,
        ),
    ),
    "fee_invoice_reconciliation": (
        Measure(
            "rows",
            _count("staging.stg_mollie__invoices"),
            _count("marts.fee_invoice_reconciliation"),
        ),
        Measure(
            "sum(invoice_gross)",
            _sum("staging.stg_mollie__invoices", "gross_amount"),
            _sum("marts.fee_invoice_reconciliation", "invoice_gross"),
            money=True,
        ),
    ),
    "fees_by_method_month": (
        Measure(
            "sum(fees)",
            _sum(_CATEGORISED, f"-({_CHARGED})", "category is distinct from 'payout'"),
            _sum("marts.fees_by_method_month", "fees"),
            money=True,
        ),
    ),
    "balance_reconciliation": (
        Measure(
            "rows",
            "(select count(distinct report_id) from staging.stg_mollie__balance_reports "
            "where depth = 0 and grouping = 'status-balances')",
            _count("marts.balance_reconciliation"),
        ),
    ),
    "journal_entries": (
        Measure(
            "rows",
            "(select count(distinct posting_key) from marts.journal_entry_lines)",
            _count("marts.journal_entries"),
        ),
        # The lines' foreign key to their entry, checked here: the entries are built from the
        # lines, so they do not exist yet when the lines' own check runs.
        Measure(
            "lines whose entry exists",
            _count("marts.journal_entry_lines"),
            _count(
                "marts.journal_entry_lines",
                "posting_key in (select posting_key from marts.journal_entries)",
            ),
        ),
        Measure(
            "sum(debit)",
            _sum("marts.journal_entry_lines", "debit"),
            _sum("marts.journal_entries", "total_debit"),
            money=True,
        ),
        Measure(
            "sum(credit)",
            _sum("marts.journal_entry_lines", "credit"),
            _sum("marts.journal_entries", "total_credit"),
            money=True,
        ),
    ),
    "subscription_mrr": (
        Measure(
            "sum(mrr)",
            _sum("marts.customer_mrr", "mrr"),
            _sum("marts.subscription_mrr", "mrr"),
            money=True,
        ),
    ),
}


def reads(table: str) -> frozenset[tuple[str, str]]:
    """Every other table the `rows` and `layers` frames of `table` read (not the privacy scan).

    The Dagster check must run after them (its additional deps), so none may be downstream of
    the table itself: the unit tests hold every suite to that.
    """
    statements = [f"select * from {fk.parent}" for fk in FOREIGN_KEYS.get(table, ())]
    statements += [f"select {sql} from t" for sql in DERIVED.get(table, {}).values()]
    if table in INTEGRITY:
        statements.append(_layers_sql(table))
    refs: set[tuple[str, str]] = set()
    for sql in statements:
        refs |= table_references(sql)
    return frozenset(refs)


def _layers_sql(table: str) -> str:
    parts = []
    for m in INTEGRITY[table]:
        # Money as DECIMAL(38,4) text so "1.50" (scale 2) and "1.5000" (scale 4) agree.
        cast = "decimal(38, 4)" if m.money else "bigint"
        parts.append(
            f"select {_literal(m.name)} as measure, "
            f"cast(cast({m.upstream} as {cast}) as varchar) as upstream, "
            f"cast(cast({m.here} as {cast}) as varchar) as here"
        )
    return "\nunion all\n".join(parts)


# -- the frames of one table ---------------------------------------------------------------------


def build(
    con: duckdb.DuckDBPyConnection, schema: str, table: str, kinds: Iterable[str]
) -> dict[str, pd.DataFrame]:
    """The frames of `schema.table` that its suite needs (a subset of FRAME_KINDS)."""
    frames = {}
    for kind in kinds:
        if kind == "rows":
            frames[kind] = con.sql(rows_sql(con, schema, table)).df()
        elif kind == "columns":
            frames[kind] = columns_frame(con, schema, table)
        elif kind == "layers":
            if table not in INTEGRITY:
                raise KeyError(f"{schema}.{table}: no integrity measures in quality.frames")
            frames[kind] = con.sql(_layers_sql(table)).df()
        else:
            raise ValueError(f"unknown frame kind {kind!r} (one of {FRAME_KINDS})")
    return frames
