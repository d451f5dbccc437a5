"""Helpers for transforms tests that add Mollie ledger rows to a warehouse and read findings."""

from __future__ import annotations

from decimal import Decimal


def findings(con, severity: str = "error") -> set[tuple[str, str, str]]:
    return set(
        con.execute(
            "select check_name, object_type, object_id from marts.reconciliation_exceptions "
            "where severity = ?",
            [severity],
        ).fetchall()
    )


def row_sql(row_id: str, type_: str, at: str, gross: Decimal, **extra) -> str:
    """INSERT of one raw ledger row on the EUR balance, as the extract would load it."""
    deductions = extra.pop("deductions", Decimal(0))
    details = extra.pop("details", None)
    columns = {
        "id": f"'{row_id}'",
        "type": f"'{type_}'",
        "created_at": f"'{at}'::timestamptz",
        "result_amount": str(gross + deductions),
        "result_amount_currency": "'EUR'",
        "initial_amount": str(gross),
        "initial_amount_currency": "'EUR'",
        "deductions": str(deductions),
        "deductions_currency": "'EUR'",
        "balance_id": "(select id from mollie.balances where currency = 'EUR' limit 1)",
        "_dlt_load_id": "'9999999999.0'",
        "_dlt_id": f"'{row_id}'",
        **{k: f"'{v}'" for k, v in extra.items()},
    }
    if details:
        for name, value in zip(
            ("fees", "reservations", "repayments", "commissions"), details, strict=True
        ):
            if value is not None:
                columns[f"deduction_{name}"] = str(value)
                columns[f"deduction_{name}_currency"] = "'EUR'"
    return (
        f"insert into mollie.balance_transactions ({', '.join(columns)}) "
        f"values ({', '.join(columns.values())})"
    )
