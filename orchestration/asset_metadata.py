"""What a mart's materialisation tells a reader in the Dagster UI: money totals, a summary, a chart.

Totals are summed by DuckDB on the DECIMAL columns and handed over as strings, so the UI shows
exactly what the books say (a float would turn 0.10 + 0.20 into 0.30000000000000004). Only
flow columns are totalled (sales, fees, differences): summing a balance over days means nothing.
Charts are Vega-Lite specs (JSON metadata) with the amounts still as strings; the spec's
`format.parse` makes them numbers only for plotting.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dagster as dg
import duckdb

VEGA_LITE_SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
CHART_DAYS = 180  # the daily chart shows the most recent half year


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


def _vega_lite(title: str, values: list[dict[str, Any]], numbers: list[str], **spec: Any) -> dict:
    return {
        "$schema": VEGA_LITE_SCHEMA,
        "title": title,
        "width": 640,
        "data": {"values": values, "format": {"parse": dict.fromkeys(numbers, "number")}},
        **spec,
    }


def _records(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def daily_overview_chart(con: duckdb.DuckDBPyConnection) -> dict:
    values = _records(
        con,
        f"""select cast(day as varchar) as day, currency,
                   cast(net_activity as varchar) as net_activity,
                   cast(ending_balance as varchar) as ending_balance
            from marts.daily_overview
            where day > (select max(day) from marts.daily_overview) - {CHART_DAYS}
            order by day, currency""",
    )
    return _vega_lite(
        "Net activity (bars) and ending balance (line) per day",
        values,
        ["net_activity", "ending_balance"],
        encoding={
            "x": {"field": "day", "type": "temporal"},
            "color": {"field": "currency", "type": "nominal"},
        },
        layer=[
            {
                "mark": {"type": "bar", "opacity": 0.5},
                "encoding": {"y": {"field": "net_activity", "type": "quantitative"}},
            },
            {
                "mark": "line",
                "encoding": {"y": {"field": "ending_balance", "type": "quantitative"}},
            },
        ],
        resolve={"scale": {"y": "independent"}},
    )


def balance_forecast_chart(con: duckdb.DuckDBPyConnection) -> dict:
    values = _records(
        con,
        """select cast(forecast_date as varchar) as forecast_date,
                  currency || ' ' || balance_id as balance,
                  cast(expected_available as varchar) as expected_available,
                  is_anomaly, coalesce(anomaly_reason, '') as anomaly_reason
           from marts.balance_forecast order by balance, forecast_date""",
    )
    return _vega_lite(
        "Expected available balance (anomalies marked)",
        values,
        ["expected_available"],
        encoding={
            "x": {"field": "forecast_date", "type": "temporal"},
            "y": {"field": "expected_available", "type": "quantitative"},
            "color": {"field": "balance", "type": "nominal"},
        },
        layer=[
            {"mark": "line"},
            {
                "transform": [{"filter": "datum.is_anomaly"}],
                "mark": {"type": "point", "shape": "triangle-up", "size": 80, "color": "red"},
                "encoding": {"tooltip": [{"field": "anomaly_reason"}]},
            },
        ],
    )


CHARTS: dict[str, Callable[[duckdb.DuckDBPyConnection], dict]] = {
    "daily_overview": daily_overview_chart,
    "balance_forecast": balance_forecast_chart,
}


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
    if table in CHARTS:
        metadata["chart"] = dg.MetadataValue.json(CHARTS[table](con))
    return metadata
