"""The `rows` frame: a table as its suite sees it, plus helper columns computed in SQL.

The catalogue of foreign keys (`<fk>_exists`, NULL when the key is NULL) and of the few derived
flags some tables carry (a journal line's account is in the chart, its entry balances), and the
SQL that reads a table with them: money as exact text, dates as UTC instants.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from quality.tables import describe, quote


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
        "account_in_chart": (
            "t.account in (select account from config.accounts "
            "union all select account from config.clearing_accounts)"
        ),
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


def rows_sql(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> str:
    selected = []
    for name, dtype in describe(con, schema, table):
        selected.append(f"{_as_exact(f't.{quote(name)}', dtype)} as {quote(name)}")
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
