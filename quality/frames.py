"""The SQL that turns a warehouse table into the pandas frames its suite validates.

Great Expectations validates pandas frames (its DuckDB support is unofficial and broken), so a
suite never sees the table directly; it sees up to three frames, chosen per expectation by
`meta.frame`:

- ``rows``: the table, one row per row, plus helper columns computed in SQL: `<fk>_exists` for
  each foreign key (NULL when the key is NULL) and a few table-specific flags (a journal line's
  account is in the chart, its entry balances). Money never reaches pandas as a float: DECIMAL
  columns arrive as their exact text ("-0.29"), so GX can check signs and scale by regex; dates
  arrive as UTC timestamps so every temporal bound compares the same way.
- ``columns``: the privacy scan, one row per text column of every table the suite is
  responsible for (its own table and the raw or intermediate tables it owns, see `scan_scope`),
  with counts of card-number-like, clear e-mail, clear IBAN, known-PII and invalid-IBAN values.
  Only a masked card number ever leaves SQL.
- ``layers``: integrity in the dbt_stripe style, one row per measure (row count, amount sum)
  with the upstream layer's value and this table's value as exact text, so equality is decided
  by DuckDB's DECIMAL arithmetic, never by floats.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import duckdb
from schwifty import IBAN
from schwifty.exceptions import InvalidBBANChecksum, InvalidChecksumDigits, SchwiftyException

from extract.records import TABLES
from transforms.models import discover, table_references

if TYPE_CHECKING:  # pandas takes ~2 s to import; the Dagster definitions import this module
    import pandas as pd

FRAME_KINDS = ("rows", "columns", "layers")
# The layers that have one suite per table; everything else (raw, bank, intermediate) is
# scanned for privacy by the suite that reads it first (`scan_owners`).
GOVERNED = ("staging", "marts")
PAST_STAGING = ("intermediate", "marts")
# Every table nobody reads (quarantine, dlt's bookkeeping and scratch copies, config, exports)
# is scanned by the ledger's staging suite: every mart, journal and export sits downstream of it,
# so a card number stored anywhere stops the exports.
CATCH_ALL = ("staging", "stg_mollie__balance_transactions")


# -- foreign keys and derived flags (the `rows` frame) -------------------------------------------


@dataclass(frozen=True)
class ForeignKey:
    column: str
    parent: str  # schema.table
    parent_column: str

    @property
    def helper(self) -> str:
        return f"{self.column}_exists"

    def sql(self) -> str:
        # NULL key -> NULL flag (GX map expectations skip NULLs: optional keys stay optional);
        # the parent's NULLs are filtered so `x in (...)` is never NULL for a real miss.
        return (
            f"t.{self.column} in (select {self.parent_column} from {self.parent} "
            f"where {self.parent_column} is not null)"
        )


def _fk(column: str, parent: str, parent_column: str | None = None) -> ForeignKey:
    return ForeignKey(column, parent, parent_column or column)


_STG = "staging.stg_mollie__"
FOREIGN_KEYS: dict[str, tuple[ForeignKey, ...]] = {
    "stg_mollie__balance_reports": (_fk("balance_id", f"{_STG}balances"),),
    "stg_mollie__balance_transactions": (
        _fk("balance_id", f"{_STG}balances"),
        _fk("payment_id", f"{_STG}payments"),
        _fk("settlement_id", f"{_STG}settlements"),
    ),
    "stg_mollie__chargebacks": (
        _fk("payment_id", f"{_STG}payments"),
        _fk("settlement_id", f"{_STG}settlements"),
    ),
    "stg_mollie__invoice_lines": (_fk("invoice_id", f"{_STG}invoices"),),
    "stg_mollie__payments": (
        _fk("customer_id", f"{_STG}customers"),
        _fk("subscription_id", f"{_STG}subscriptions"),
        _fk("settlement_id", f"{_STG}settlements"),
    ),
    "stg_mollie__refunds": (_fk("payment_id", f"{_STG}payments"),),
    "stg_mollie__settlement_captures": (
        _fk("settlement_id", f"{_STG}settlements"),
        _fk("payment_id", f"{_STG}payments"),
    ),
    "stg_mollie__settlement_chargebacks": (
        _fk("settlement_id", f"{_STG}settlements"),
        _fk("chargeback_id", f"{_STG}chargebacks"),
    ),
    "stg_mollie__settlement_payments": (
        _fk("settlement_id", f"{_STG}settlements"),
        _fk("payment_id", f"{_STG}payments"),
    ),
    "stg_mollie__settlement_periods": (
        _fk("settlement_id", f"{_STG}settlements"),
        _fk("invoice_id", f"{_STG}invoices"),
    ),
    "stg_mollie__settlement_refunds": (
        _fk("settlement_id", f"{_STG}settlements"),
        _fk("refund_id", f"{_STG}refunds"),
    ),
    "stg_mollie__settlements": (_fk("balance_id", f"{_STG}balances"),),
    "stg_mollie__subscriptions": (_fk("customer_id", f"{_STG}customers"),),
    "balance_forecast": (_fk("balance_id", f"{_STG}balances"),),
    "balance_ledger": (
        _fk("balance_id", f"{_STG}balances"),
        _fk("settlement_id", f"{_STG}settlements"),
    ),
    "balance_reconciliation": (_fk("balance_id", f"{_STG}balances"),),
    "chargeback_cases": (_fk("payment_id", f"{_STG}payments"),),
    "customer_mrr": (_fk("customer_id", f"{_STG}customers"),),
    "fee_invoice_reconciliation": (_fk("invoice_id", f"{_STG}invoices"),),
    "settlement_reconciliation": (_fk("balance_id", f"{_STG}balances"),),
}

# Flags that need exact arithmetic or another table, computed in SQL over the table aliased `t`.
DERIVED: dict[str, dict[str, str]] = {
    # A flag, not a regex on the column: a failing regex would print the leaked address in
    # Data Docs and the check metadata.
    "stg_mollie__customers": {"email_domain_only": "not contains(t.email_domain, '@')"},
    "balance_ledger": {
        # The gross has the sign the type map gives the type (a type the map lacks: no opinion).
        "sign_as_mapped": (
            "coalesce((select case m.initial_sign when '+' then t.gross >= 0 "
            "when '-' then t.gross <= 0 else true end "
            "from seeds.balance_transaction_types as m where m.type = t.type), true)"
        ),
    },
    "journal_entries": {
        # Recomputed from the lines, independently of the mart's own is_balanced column.
        "lines_balance": (
            "(select sum(l.debit) = sum(l.credit) from marts.journal_entry_lines as l "
            "where l.posting_key = t.posting_key)"
        ),
    },
    "journal_entry_lines": {
        "account_in_chart": "t.account in (select account from config.accounts)",
        "entry_balanced": (
            "sum(t.debit) over (partition by t.posting_key) "
            "= sum(t.credit) over (partition by t.posting_key)"
        ),
        "one_sided": "(t.debit = 0) <> (t.credit = 0)",
        # Rounding carries at most the configured tolerance per entry; more is never booked.
        "rounding_within_tolerance": (
            "t.role <> 'rounding' or abs(sum(t.debit - t.credit) filter (where t.role = "
            "'rounding') over (partition by t.posting_key)) <= coalesce((select tolerance from "
            "config.tolerances where check_name = 'rounding'), 0)"
        ),
    },
}


def _rows_sql(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> str:
    selected = []
    for name, dtype in describe(con, schema, table):
        selected.append(f"{_as_exact(f't.{_q(name)}', dtype)} as {_q(name)}")
    selected += [f"{fk.sql()} as {fk.helper}" for fk in FOREIGN_KEYS.get(table, ())]
    selected += [f"{sql} as {helper}" for helper, sql in DERIVED.get(table, {}).items()]
    return f"select {', '.join(selected)} from {schema}.{table} as t"


def _as_exact(expression: str, dtype: str) -> str:
    """How a column enters pandas: money as exact text, dates as UTC instants."""
    if dtype.startswith("DECIMAL"):
        return f"cast({expression} as varchar)"
    if dtype == "DATE":
        return f"({expression}::timestamp at time zone 'UTC')"
    if dtype in ("HUGEINT", "UBIGINT"):  # pandas would make these float64
        return f"cast({expression} as bigint)"
    if dtype == "JSON":
        return f"cast({expression} as varchar)"
    return expression


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


# -- the privacy scan (the `columns` frame) ------------------------------------------------------

# A card number: 13-19 digits, optionally grouped by single spaces or dashes, standing on its
# own (not inside a longer number or an alphanumeric token such as a hex hash), passing Luhn,
# and starting like a real card network (ISO/IEC 7812 major industry 3-6, plus Mastercard's
# 2221-2720): bank references, hashes and timestamps rarely do all of that.
_CARD = re.compile(r"(?<![0-9A-Za-z])(?:\d[ -]?){12,18}\d(?![0-9A-Za-z])")
_CARD_PREFILTER = r"[0-9][0-9 -]{11,}[0-9]"  # RE2, so DuckDB skips most values itself
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
# Text shaped like an IBAN of a real country (length and BBAN structure right) whose check
# digits fail is a mistyped IBAN; anything else schwifty refuses is just not an IBAN (a PayPal
# reference, a VAT number).
_IBAN_TYPOS = (InvalidChecksumDigits, InvalidBBANChecksum)
_IBAN_PREFILTER = r"[A-Z]{2}[0-9]{2}"
EMAIL_REGEX = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
HASH_REGEX = r"^px_[0-9a-f]{32}$"  # transforms.build's pii_hash
# Column names that announce personal data; allowed past staging only as `<...>_hash`. A bare
# `name` or a person's name (customer_name, holder, ...) counts; names of things (check_name,
# table_name) do not.
PII_NAME_REGEX = (
    r"^name$|(customer|consumer|counterparty|beneficiary|payer|contact|first|last|full)_?name"
    r"|(^|_)(e_?mail|iban|holder|cardholder)(_|$)"
)
# Where clear PII may come from: the raw values pseudonymised in staging (customers, payment
# details, the bank lines' accounts). A value past staging equal to one of these is a leak
# that no regex would spot (a name is just text).
KNOWN_PII_SOURCES = (
    ("mollie", "customers", "name"),
    ("mollie", "customers", "email"),
    ("mollie", "payments", "details->>'consumerName'"),
    ("mollie", "payments", "details->>'consumerAccount'"),
    ("mollie", "payments", "details->>'cardHolder'"),
    ("mollie", "balances", "transfer_destination_bank_account"),
    ("bank", "statement_lines", "account_iban"),
    ("bank", "statement_lines", "counterparty_iban"),
)
KNOWN_PII_MIN_LENGTH = 6  # shorter values ("Jan", "NL") match ordinary text


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card_network(digits: str) -> bool:
    return digits[0] in "3456" or 2221 <= int(digits[:4]) <= 2720


def _card_matches(value: str) -> Iterator[tuple[str, str]]:
    """(text as written, digits) of every full card number in `value`."""
    for match in _CARD.finditer(value):
        digits = re.sub(r"[ -]", "", match.group())
        if 13 <= len(digits) <= 19 and _card_network(digits) and _luhn(digits):
            yield match.group(), digits


def card_numbers(value: str | None) -> list[str]:
    """Every full card number in `value`, digits only."""
    return [digits for _, digits in _card_matches(value or "")]


def mask_card(digits: str) -> str:
    """PCI DSS display masking: first six and last four digits at most."""
    return digits[:6] + "*" * (len(digits) - 10) + digits[-4:]


def mask_pii(value: str) -> str:
    """`value` with card numbers, e-mail addresses and IBANs masked, for anything shown to
    people (sample rows, messages). Past staging nothing should need it; raw and staging
    text (a payment description) might."""
    out = value
    for written, digits in _card_matches(value):
        out = out.replace(written, mask_card(digits))
    out = re.sub(EMAIL_REGEX, lambda m: m.group()[0] + "***@" + m.group().split("@")[1], out)
    return _IBAN.sub(lambda m: m.group()[:4] + "***" + m.group()[-4:], out)


def _first_masked_card(value: str | None) -> str | None:
    found = card_numbers(value)
    return mask_card(found[0]) if found else None


def _iban_state(value: str | None) -> str | None:
    """'valid' if `value` holds a valid IBAN, 'invalid' if only a mistyped one, else NULL."""
    if not value:
        return None
    state = None
    for match in _IBAN.finditer(value):
        try:
            IBAN(match.group().replace(" ", ""))
        except _IBAN_TYPOS:
            state = "invalid"
        except SchwiftyException:
            continue
        else:
            return "valid"
    return state


def register_functions(con: duckdb.DuckDBPyConnection) -> None:
    """The Python detectors as DuckDB functions on this connection (idempotent)."""
    for name, fn in (
        ("quality_masked_card", _first_masked_card),
        ("quality_iban_state", _iban_state),
    ):
        try:
            con.remove_function(name)
        except (duckdb.InvalidInputException, duckdb.CatalogException):
            pass
        con.create_function(
            name, fn, ["VARCHAR"], "VARCHAR", null_handling="special", side_effects=False
        )


@cache
def scan_owners() -> dict[tuple[str, str], tuple[str, str]]:
    """Which suite scans which table: its own, and the ungoverned tables it reads first."""
    owners: dict[tuple[str, str], tuple[str, str]] = {}
    for model in discover():  # dependency order: the first reader owns an upstream table
        if model.schema not in GOVERNED:
            continue
        owners.setdefault(model.key, model.key)
        for dep in sorted(model.deps):
            if dep[0] not in GOVERNED:
                owners.setdefault(dep, model.key)
    return owners


def scan_scope(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[tuple[str, str]]:
    """The tables whose text columns the `columns` frame of `schema.table` scans."""
    existing = warehouse_tables(con)
    owners = scan_owners()
    scope = [t for t, owner in owners.items() if owner == (schema, table) and t in existing]
    if (schema, table) == CATCH_ALL:
        scope += sorted(t for t in existing if t not in owners)
    return scope


def _column_scan_sql(schema: str, table: str, columns: list[tuple[str, str]]) -> str:
    transformed = schema in ("staging", *PAST_STAGING)
    aggregates = []
    for name, _dtype in columns:
        v = f"cast({_q(name)} as varchar)"
        # Our pseudonyms are `<...>_hash` columns of the transformed layers (dlt's own
        # `version_hash` in raw is not one).
        is_pseudonym = transformed and name.endswith("_hash")
        pseudonymised = schema in PAST_STAGING or is_pseudonym
        clear = "count(*) filter (where {})" if pseudonymised else "null::bigint"
        aggregates += [
            f"count({v})",
            f"count(*) filter (where case when regexp_matches({v}, '{_CARD_PREFILTER}') "
            f"then quality_masked_card({v}) end is not null)",
            f"min(case when regexp_matches({v}, '{_CARD_PREFILTER}') "
            f"then quality_masked_card({v}) end)",
            f"count(*) filter (where case when regexp_matches({v}, '{_IBAN_PREFILTER}') "
            f"then quality_iban_state({v}) end = 'invalid')",
            clear.format(f"regexp_matches({v}, '{EMAIL_REGEX}')"),
            clear.format(
                f"case when regexp_matches({v}, '{_IBAN_PREFILTER}') "
                f"then quality_iban_state({v}) end = 'valid'"
            ),
            clear.format(f"lower(trim({v})) in (select v from quality_known_pii)"),
            (
                f"count(*) filter (where not regexp_matches({v}, '{HASH_REGEX}'))"
                if is_pseudonym
                else "null::bigint"
            ),
        ]
    return f"select {', '.join(aggregates)} from {schema}.{_q(table)}"


_SCAN_COLUMNS = (
    "non_null_values",
    "card_number_values",
    "card_number_example",
    "invalid_iban_values",
    "clear_email_values",
    "clear_iban_values",
    "known_pii_values",
    "non_hash_values",
)


def _known_pii(con: duckdb.DuckDBPyConnection) -> None:
    existing = warehouse_tables(con)
    selects = [
        f"select cast({expr} as varchar) as v from {schema}.{table}"
        for schema, table, expr in KNOWN_PII_SOURCES
        if (schema, table) in existing
    ] or ["select null::varchar as v"]
    con.execute(
        "create or replace temp table quality_known_pii as "
        f"select distinct lower(trim(v)) as v from ({' union all '.join(selects)}) "
        f"where length(trim(v)) >= {KNOWN_PII_MIN_LENGTH}"
    )


def _columns_frame(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> pd.DataFrame:
    import pandas as pd

    register_functions(con)
    _known_pii(con)
    records = []
    for s, t in scan_scope(con, schema, table):
        text = [(n, d) for n, d in describe(con, s, t) if d in ("VARCHAR", "JSON")]
        if not text:
            continue
        values = con.execute(_column_scan_sql(s, t, text)).fetchall()[0]
        width = len(_SCAN_COLUMNS)
        for i, (name, dtype) in enumerate(text):
            row = dict(zip(_SCAN_COLUMNS, values[i * width : (i + 1) * width], strict=True))
            records.append(
                {
                    "table_name": f"{s}.{t}",
                    "column_name": name,
                    "data_type": dtype,
                    "layer": s if s in ("staging", *PAST_STAGING) else "raw",
                    # NULL where the naming rule does not apply (raw and staging columns).
                    "pii_named_column": (
                        bool(re.search(PII_NAME_REGEX, name)) and not name.endswith("_hash")
                        if s in PAST_STAGING
                        else None
                    ),
                    **row,
                }
            )
    frame = pd.DataFrame.from_records(records, columns=_COLUMN_FRAME)
    return frame.astype({c: "Int64" for c in _SCAN_COLUMNS if c != "card_number_example"})


_COLUMN_FRAME = (
    "table_name",
    "column_name",
    "data_type",
    "layer",
    "pii_named_column",
    *_SCAN_COLUMNS,
)


# -- the frames of one table ---------------------------------------------------------------------


def build(
    con: duckdb.DuckDBPyConnection, schema: str, table: str, kinds: Iterable[str]
) -> dict[str, pd.DataFrame]:
    """The frames of `schema.table` that its suite needs (a subset of FRAME_KINDS)."""
    frames = {}
    for kind in kinds:
        if kind == "rows":
            frames[kind] = con.sql(_rows_sql(con, schema, table)).df()
        elif kind == "columns":
            frames[kind] = _columns_frame(con, schema, table)
        elif kind == "layers":
            if table not in INTEGRITY:
                raise KeyError(f"{schema}.{table}: no integrity measures in quality.frames")
            frames[kind] = con.sql(_layers_sql(table)).df()
        else:
            raise ValueError(f"unknown frame kind {kind!r} (one of {FRAME_KINDS})")
    return frames


def describe(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[tuple[str, str]]:
    """(column, DuckDB type) of a table, in order."""
    return con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, table],
    ).fetchall()


def warehouse_tables(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str]]:
    """Every base table of the warehouse file (temporary tables excluded)."""
    return set(
        con.execute(
            "select schema_name, table_name from duckdb_tables() "
            "where not temporary and database_name = current_database()"
        ).fetchall()
    )


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
