"""The financial report: one static HTML page from the marts, for people who do not open SQL.

Sections: daily overview, payouts (settlement reconciliation with bank match), fees by method and
month, MRR movement, open chargebacks by priority, findings (reconciliation and forecast). The
page is self-contained (inline CSS and SVG drawn by reporting.charts, no scripts, no external
links) so it can be mailed, archived or opened on a machine without internet. Every amount in
the tables is printed from the mart's DECIMAL (the Decimal's own string, never a float), every
text is HTML-escaped.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from html import escape
from pathlib import Path
from typing import Any

import duckdb

from reporting.charts import (
    CHART_DAYS,
    daily_overview_chart,
    fees_per_month_chart,
    mrr_per_month_chart,
    to_svg,
)

ENV_REPORT_DIR = "MOLLIE_LEDGER_REPORT_DIR"
DEFAULT_REPORT_DIR = "data/report"
REPORT_FILE = "index.html"
# The marts the page reads (the report asset depends on exactly these).
MARTS = (
    "daily_overview",
    "settlement_reconciliation",
    "fees_by_method_month",
    "subscription_mrr",
    "chargeback_cases",
    "reconciliation_exceptions",
    "balance_forecast",
)
RECENT_DAYS = 14  # rows of the daily table
MAX_ROWS = 50  # longest detail table

CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; padding: 0 1rem;
       max-width: 1100px; color: #222; }
h1 { margin-bottom: 0; } .meta { color: #666; margin-top: .25rem; }
section { margin: 2rem 0; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .25rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; }
th, td { padding: .2rem .6rem; border-bottom: 1px solid #eee; text-align: left; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
figure.chart { margin: .5rem 0; } figure.chart svg { max-width: 100%; height: auto; }
.none { color: #2a7a2a; } .warn { color: #b04a00; }
nav a { margin-right: 1rem; }
"""


def report_path(folder: str | os.PathLike[str] | None = None) -> Path:
    """Where the page goes: `folder`, else MOLLIE_LEDGER_REPORT_DIR, else data/report."""
    return Path(folder or os.environ.get(ENV_REPORT_DIR) or DEFAULT_REPORT_DIR) / REPORT_FILE


def text(value: Any) -> str:
    """A cell as printed: Decimals as themselves (exact), dates ISO, None empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """An HTML table; numeric cells (Decimal, int) are right-aligned."""
    if not rows:
        return '<p class="none">None.</p>'
    numeric = [
        any(isinstance(r[i], (Decimal, int)) and not isinstance(r[i], bool) for r in rows)
        for i in range(len(headers))
    ]

    def cell(tag: str, i: int, value: str) -> str:
        return f"<{tag}{' class=num' if numeric[i] else ''}>{escape(value)}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(cell("td", i, text(v)) for i, v in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def query_table(con: duckdb.DuckDBPyConnection, sql: str) -> str:
    """A query as an HTML table, headed by its column names (the SQL aliases them for people)."""
    cursor = con.execute(sql)
    headers = [d[0] for d in cursor.description]
    return table(headers, cursor.fetchall())


def _figure(spec: dict) -> str:
    """A chart of reporting.charts as inline SVG, labelled for screen readers by its title."""
    svg = to_svg(spec)
    if not svg:
        return ""
    return f'<figure class="chart" role="img" aria-label="{escape(spec["title"])}">{svg}</figure>'


def _currencies(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [c for (c,) in _rows(con, f"select distinct currency from marts.{table} order by 1")]


def _per_currency_charts(con: duckdb.DuckDBPyConnection, table: str, chart) -> str:
    """One chart per currency: amounts in different currencies share no axis."""
    return "".join(
        f"<h3>{escape(currency)}</h3>" + _figure(chart(con, currency))
        for currency in _currencies(con, table)
    )


def daily_overview(con: duckdb.DuckDBPyConnection) -> str:
    latest = _rows(
        con,
        """select currency, day, ending_balance from marts.daily_overview
           qualify row_number() over (partition by currency order by day desc) = 1
           order by currency""",
    )
    charts = "".join(
        f"<h3>{escape(currency)}: balance {escape(text(balance))} at the end of "
        f"{escape(text(day))}</h3>" + _figure(daily_overview_chart(con, currency))
        for currency, day, balance in latest
    )
    recent = query_table(
        con,
        f"""select day, currency, sales, refunds, chargebacks, fees,
                   net_activity as "net activity", payouts, ending_balance as "ending balance"
            from marts.daily_overview
            where day > (select max(day) from marts.daily_overview) - {RECENT_DAYS}
            order by day desc, currency""",
    )
    return (
        f"<p>The last {CHART_DAYS} days; the table below lists the last {RECENT_DAYS}.</p>"
        + charts
        + f"<h3>Last {RECENT_DAYS} days</h3>"
        + recent
    )


def payouts(con: duckdb.DuckDBPyConnection) -> str:
    summary = query_table(
        con,
        """select status, count(*) as settlements,
                  count(bank_matched_by) as "matched to a bank deposit",
                  count(*) filter (where bank_deposit_expected and bank_matched_by is null)
                      as "expected at the bank, not found"
           from marts.settlement_reconciliation group by status order by status""",
    )
    detail = query_table(
        con,
        f"""select settled_date as settled, reference, settlement_id as settlement, currency,
                   amount, status,
                   case when bank_matched_by is not null then 'matched (' || bank_matched_by || ')'
                        when bank_deposit_expected then 'not found'
                        else 'not expected' end as bank,
                   bank_deposit_date as "deposit date"
            from marts.settlement_reconciliation
            order by settled_date desc nulls first, settlement_id limit {MAX_ROWS}""",
    )
    return summary + f"<h3>Latest {MAX_ROWS} settlements</h3>" + detail


def fees(con: duckdb.DuckDBPyConnection) -> str:
    return _per_currency_charts(con, "fees_by_method_month", fees_per_month_chart) + query_table(
        con,
        """select month, currency, method, charged_transactions as "charged transactions",
                  payment_volume as "payment volume", fees,
                  case when effective_rate is not null
                       then format('{:.3f} %', effective_rate * 100) end as "effective rate"
           from marts.fees_by_method_month order by month desc, currency, fees desc, method""",
    )


def mrr(con: duckdb.DuckDBPyConnection) -> str:
    return _per_currency_charts(con, "subscription_mrr", mrr_per_month_chart) + query_table(
        con,
        """select month, currency, mrr as "MRR", new_mrr as new, expansion_mrr as expansion,
                  reactivation_mrr as reactivation, contraction_mrr as contraction,
                  churned_mrr as churned, paying_customers as "paying customers"
           from marts.subscription_mrr order by currency, month""",
    )


_PRIORITY_ORDER = (
    "case priority when 'critical' then 0 when 'high' then 1 when 'medium' then 2 "
    "when 'low' then 3 else 4 end"
)


def chargebacks(con: duckdb.DuckDBPyConnection) -> str:
    by_priority = query_table(
        con,
        f"""select priority, currency, count(*) as "open cases", sum(amount) as amount,
                   max(age_days) as "oldest (days)"
            from marts.chargeback_cases where state = 'open'
            group by priority, currency order by {_PRIORITY_ORDER}, currency""",
    )
    cases = query_table(
        con,
        f"""select priority, chargeback_id as chargeback, payment_id as payment,
                   created_at::date as opened, currency, amount, reason_code as reason,
                   age_days as "age (days)"
            from marts.chargeback_cases where state = 'open'
            order by {_PRIORITY_ORDER}, age_days desc, chargeback_id limit {MAX_ROWS}""",
    )
    return by_priority + "<h3>Open cases</h3>" + cases


def findings(con: duckdb.DuckDBPyConnection) -> str:
    (count,) = con.execute("select count(*) from marts.reconciliation_exceptions").fetchone()
    reconciliation = (
        query_table(
            con,
            """select check_name as "check", severity, currency, count(*) as findings,
                      sum(abs(difference)) as "Σ |difference|"
               from marts.reconciliation_exceptions
               group by all order by severity, "check", currency""",
        )
        + f"<h3>First {MAX_ROWS} of {count} findings</h3>"
        + query_table(
            con,
            f"""select check_name as "check", severity, object_type as "object type",
                       object_id as object, currency, expected, actual, difference
                from marts.reconciliation_exceptions
                order by severity, check_name, object_id limit {MAX_ROWS}""",
        )
        if count
        else '<p class="none">No findings: every identity holds.</p>'
    )
    anomalies = query_table(
        con,
        """select balance_id as balance, currency, forecast_date as day, anomaly_reason as reason,
                  expected_available as "expected available"
           from marts.balance_forecast where is_anomaly order by balance_id, forecast_date""",
    )
    return (
        "<h3>Reconciliation</h3>"
        + reconciliation
        + "<h3>Balance forecast anomalies</h3>"
        + anomalies
    )


SECTIONS: tuple[tuple[str, str, Callable[[duckdb.DuckDBPyConnection], str]], ...] = (
    ("daily", "Daily overview", daily_overview),
    ("payouts", "Payouts", payouts),
    ("fees", "Fees by method and month", fees),
    ("mrr", "MRR movement", mrr),
    ("chargebacks", "Open chargebacks by priority", chargebacks),
    ("findings", "Findings", findings),
)


def _section(con: duckdb.DuckDBPyConnection, render: Callable[..., str]) -> str:
    try:
        return render(con)
    except duckdb.CatalogException as exc:
        # A mart not built yet (a fresh warehouse): the rest of the page is still useful.
        first_line = str(exc).splitlines()[0]
        return f'<p class="warn">Not available yet: {escape(first_line)}</p>'


def render_report(con: duckdb.DuckDBPyConnection, *, generated_at: datetime) -> str:
    """The whole page as a string."""
    # Without this, DuckDB resolves a missing table by a Python variable of the same name in
    # the calling frames (a "replacement scan"): here, the section function daily_overview.
    con.execute("set python_enable_replacements = false")
    try:
        (as_of,) = con.execute("select max(day) from marts.daily_overview").fetchone()
    except duckdb.CatalogException:
        as_of = None
    nav = "".join(f'<a href="#{key}">{escape(title)}</a>' for key, title, _ in SECTIONS)
    body = "".join(
        f'<section id="{key}"><h2>{escape(title)}</h2>{_section(con, render)}</section>'
        for key, title, render in SECTIONS
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>mollie-ledger financial report</title><style>{CSS}</style></head><body>"
        "<h1>mollie-ledger financial report</h1>"
        f'<p class="meta">Data up to {escape(text(as_of) or "(no data)")}; generated '
        f"{escape(generated_at.strftime('%Y-%m-%d %H:%M %Z').strip())}. Amounts as in the marts, "
        "in each row's currency.</p>"
        f"<nav>{nav}</nav>{body}</body></html>"
    )


def write_report(
    con: duckdb.DuckDBPyConnection,
    folder: str | os.PathLike[str] | None = None,
    *,
    generated_at: datetime,
) -> Path:
    """Render and write the page atomically (a reader never sees half a page); its path."""
    path = report_path(folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(render_report(con, generated_at=generated_at), encoding="utf-8")
    tmp.replace(path)
    return path
