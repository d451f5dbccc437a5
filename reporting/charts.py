"""The charts, each defined once as a Vega-Lite spec and drawn wherever it is shown: as JSON
metadata in the Dagster UI (which renders Vega-Lite itself) and as static SVG in the financial
report (`to_svg`, through vl-convert, which bundles Vega: no browser, no network, no script in
the page).

Amounts stay strings in the spec's data, exactly as the mart's DECIMAL prints them; the spec's
`format.parse` makes them numbers only for plotting.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import duckdb
import vl_convert

VEGA_LITE_SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
CHART_DAYS = 180  # the daily chart shows the most recent half year
WIDTH = 640

Chart = Callable[..., dict]


def _vega_lite(title: str, values: list[dict[str, Any]], numbers: list[str], **spec: Any) -> dict:
    return {
        "$schema": VEGA_LITE_SCHEMA,
        "title": title,
        "width": WIDTH,
        "data": {"values": values, "format": {"parse": dict.fromkeys(numbers, "number")}},
        **spec,
    }


def _records(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cursor = con.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _currency_filter(currency: str | None) -> tuple[str, list[Any]]:
    return ("and currency = ?", [currency]) if currency else ("", [])


def daily_overview_chart(con: duckdb.DuckDBPyConnection, currency: str | None = None) -> dict:
    """Net activity (bars) and ending balance (line) per day over the last CHART_DAYS days;
    every currency (coloured) unless `currency` picks one."""
    where, params = _currency_filter(currency)
    values = _records(
        con,
        f"""select cast(day as varchar) as day, currency,
                   cast(net_activity as varchar) as net_activity,
                   cast(ending_balance as varchar) as ending_balance
            from marts.daily_overview
            where day > (select max(day) from marts.daily_overview) - {CHART_DAYS} {where}
            order by day, currency""",
        params,
    )
    title = "Net activity (bars) and ending balance (line) per day"
    return _vega_lite(
        f"{currency}: {title}" if currency else title,
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


def balance_forecast_chart(con: duckdb.DuckDBPyConnection, currency: str | None = None) -> dict:
    """Expected available balance per balance, anomalies marked."""
    where, params = _currency_filter(currency)
    values = _records(
        con,
        f"""select cast(forecast_date as varchar) as forecast_date,
                  currency || ' ' || balance_id as balance,
                  cast(expected_available as varchar) as expected_available,
                  is_anomaly, coalesce(anomaly_reason, '') as anomaly_reason
           from marts.balance_forecast where true {where} order by balance, forecast_date""",
        params,
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


def _monthly_bars(title: str, values: list[dict[str, Any]], field: str) -> dict:
    return _vega_lite(
        title,
        values,
        [field],
        mark="bar",
        encoding={
            "x": {"field": "month", "type": "ordinal", "title": "month"},
            "y": {"field": field, "type": "quantitative"},
            "color": {"field": "currency", "type": "nominal"},
            "xOffset": {"field": "currency"},
            "tooltip": [{"field": "month"}, {"field": "currency"}, {"field": field}],
        },
    )


def fees_per_month_chart(con: duckdb.DuckDBPyConnection, currency: str | None = None) -> dict:
    """Mollie's fees per month (all methods)."""
    where, params = _currency_filter(currency)
    values = _records(
        con,
        f"""select cast(month as varchar) as month, currency, cast(sum(fees) as varchar) as fees
            from marts.fees_by_method_month where true {where}
            group by all order by month, currency""",
        params,
    )
    return _monthly_bars(
        f"{currency}: fees per month" if currency else "Fees per month", values, "fees"
    )


def mrr_per_month_chart(con: duckdb.DuckDBPyConnection, currency: str | None = None) -> dict:
    """Monthly recurring revenue per month."""
    where, params = _currency_filter(currency)
    values = _records(
        con,
        f"""select cast(month as varchar) as month, currency, cast(mrr as varchar) as mrr
            from marts.subscription_mrr where true {where} order by month, currency""",
        params,
    )
    return _monthly_bars(
        f"{currency}: MRR per month" if currency else "MRR per month", values, "mrr"
    )


# The charts a mart's materialisation carries in the UI.
MART_CHARTS: dict[str, Chart] = {
    "daily_overview": daily_overview_chart,
    "balance_forecast": balance_forecast_chart,
}


def to_svg(spec: dict) -> str:
    """The chart as a static SVG (no script), empty when there is nothing to plot."""
    if not spec["data"]["values"]:
        return ""
    return vl_convert.vegalite_to_svg(spec)
