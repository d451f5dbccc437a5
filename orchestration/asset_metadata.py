"""What a mart's materialisation tells a reader in the Dagster UI: money totals, a summary, a chart.

Totals are summed by DuckDB on the DECIMAL columns and handed over as strings, so the UI shows
exactly what the books say (a float would turn 0.10 + 0.20 into 0.30000000000000004). Only
flow columns are totalled (sales, fees, differences): summing a balance over days means nothing.
Charts are the Vega-Lite specs of reporting.charts (JSON metadata), the same the financial
report draws as SVG.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dagster as dg
import duckdb

from reporting.charts import MART_CHARTS


@dataclass(frozen=True)
class MartSummary:
    totals: tuple[str, ...] = ()  # money columns summed per currency
    count_by: str | None = None  # a status-like column: rows per value


MART_SUMMARIES: dict[str, MartSummary] = {
    "balance_ledger": MartSummary(("gross", "fee", "net"), "category"),
    "settlement_reconciliation": MartSummary(
        ("amount", "fees", "difference_ledger", "difference_periods", "difference_payout"),
        "status",
    ),
    "reconciliation_exceptions": MartSummary(("difference",), "check_name"),
    "balance_reconciliation": MartSummary(
        ("pending_difference", "available_difference", "ledger_difference")
    ),
    "fee_invoice_reconciliation": MartSummary(
        ("invoice_gross", "ledger_fees_net_of_compensation", "difference"), "status"
    ),
    "daily_overview": MartSummary(
        (
            "sales",
            "refunds",
            "chargebacks",
            "chargeback_reversals",
            "fees",
            "other",
            "net_activity",
            "payouts",
        )
    ),
    "fees_by_method_month": MartSummary(("payment_volume", "fees"), "method"),
    "subscription_mrr": MartSummary(
        ("new_mrr", "expansion_mrr", "reactivation_mrr", "contraction_mrr", "churned_mrr")
    ),
    "customer_mrr": MartSummary(("mrr_change",), "movement"),
    "chargeback_cases": MartSummary(("amount", "fee"), "priority"),
    "balance_forecast": MartSummary(("expected_payout",), "anomaly_reason"),
    "journal_entries": MartSummary(("total_debit", "total_credit"), "entry_type"),
    "journal_entry_lines": MartSummary(("debit", "credit"), "role"),
    "journal_entry_status": MartSummary(("clearing_amount", "imbalance"), "entry_type"),
    "clearing_reconciliation": MartSummary(
        ("journal_movement", "held_close", "difference"), "status"
    ),
}


def money_totals(
    con: duckdb.DuckDBPyConnection, table: str, columns: tuple[str, ...]
) -> dict[str, dict[str, str]]:
    """{currency: {column: "Σ as an exact decimal string"}} for marts.<table>."""
    if not columns:
        return {}
    sums = ", ".join(f'cast(coalesce(sum("{c}"), 0) as varchar)' for c in columns)
    rows = con.execute(
        f"select coalesce(currency, '?'), {sums} from marts.\"{table}\" group by 1 order by 1"
    ).fetchall()
    return {row[0]: dict(zip(columns, row[1:], strict=True)) for row in rows}


def counts_by(con: duckdb.DuckDBPyConnection, table: str, column: str | None) -> dict[str, int]:
    if column is None:
        return {}
    rows = con.execute(
        f"select coalesce(cast(\"{column}\" as varchar), '(none)'), count(*) "
        f'from marts."{table}" group by 1 order by 1'
    ).fetchall()
    return dict(rows)


def summary_markdown(
    table: str, rows: int, totals: dict[str, dict[str, str]], counts: dict[str, int], by: str | None
) -> str:
    lines = [f"**marts.{table}**: {rows} rows"]
    if totals:
        columns = list(next(iter(totals.values())))
        lines += [
            "",
            "| currency | " + " | ".join(columns) + " |",
            "|---|" + "---:|" * len(columns),
            *(
                f"| {cur} | " + " | ".join(sums[c] for c in columns) + " |"
                for cur, sums in totals.items()
            ),
        ]
    if counts:
        lines += ["", f"Rows by {by}: " + ", ".join(f"{k} {n}" for k, n in counts.items())]
    return "\n".join(lines)


def mart_metadata(con: duckdb.DuckDBPyConnection, table: str, rows: int) -> dict[str, Any]:
    """Materialisation metadata for marts.<table> beyond the row count."""
    spec = MART_SUMMARIES.get(table, MartSummary())
    totals = money_totals(con, table, spec.totals)
    counts = counts_by(con, table, spec.count_by)
    metadata: dict[str, Any] = {
        "summary": dg.MetadataValue.md(summary_markdown(table, rows, totals, counts, spec.count_by))
    }
    if totals:
        metadata["totals"] = dg.MetadataValue.json(totals)
    if counts:
        metadata[f"rows_by_{spec.count_by}"] = dg.MetadataValue.json(counts)
    if table in MART_CHARTS:
        metadata["chart"] = dg.MetadataValue.json(MART_CHARTS[table](con))
    return metadata
