"""What a complete, exact load of a sandbox world contains: computed from the `World` itself.

`expected(world)` and `loaded(con)` return the same keys (counts, id sets, Decimal sums, statuses,
daily closing balances), so a test compares two dicts and a mismatch names the metric. Amounts on
the world side are exact integer units (1/10 000), turned into Decimal without rounding; on the
warehouse side they are DuckDB DECIMAL sums, so equality is to the last digit.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import duckdb

from extract.source import DEFAULT_REPORT_DAYS
from sandbox import render
from sandbox.clock import local_date, local_midnight
from sandbox.generate import World

Metrics = dict[str, Any]

ID_TABLES = (
    "profiles",
    "balances",
    "balance_transactions",
    "settlements",
    "invoices",
    "payments",
    "refunds",
    "chargebacks",
    "customers",
    "subscriptions",
)
SUBLISTS = {
    "settlement_payments": "payment_ids",
    "settlement_refunds": "refund_ids",
    "settlement_chargebacks": "chargeback_ids",
    "settlement_captures": "capture_ids",
}
STATUS_TABLES = ("payments", "refunds", "settlements", "invoices", "subscriptions")


def units(u: int) -> Decimal:
    """Exact integer units (1/10 000) as a Decimal."""
    return Decimal(u).scaleb(-4)


def _last_day(world: World, balance_id: str) -> date | None:
    rows = [r.created_at for r in world.transactions if r.balance_id == balance_id]
    return local_date(max(rows)) if rows else None


def report_days(world: World, balance_id: str, created_at: int, first: World) -> list[date]:
    """The days with a daily report after loads of `first` (the first load) up to `world`: a
    first load goes DEFAULT_REPORT_DAYS back (not before the balance existed), later loads
    continue from there (see `extract.source`)."""
    first_last, last = _last_day(first, balance_id), _last_day(world, balance_id)
    if first_last is None or last is None:
        return []
    start = max(first_last - timedelta(days=DEFAULT_REPORT_DAYS - 1), local_date(created_at))
    return [start + timedelta(days=n) for n in range((last - start).days + 1)]


def expected(world: World, first_load: World | None = None) -> Metrics:
    """The metrics of a complete load of `world`, from the world's own records.

    Args:
        world: the world as the last load saw it.
        first_load: the world the first load into the same warehouse saw (default: `world`);
            it fixes where the daily balance reports begin.
    """
    w = world
    m: Metrics = {"count.organizations": 1}
    objects = {
        "profiles": w.profiles,
        "balances": w.balances,
        "balance_transactions": w.transactions,
        "settlements": w.settlements,
        "invoices": w.invoices,
        "payments": w.payments,
        "refunds": w.refunds,
        "chargebacks": w.chargebacks,
        "customers": w.customers,
        "subscriptions": w.subscriptions,
    }
    for table, objs in objects.items():
        m[f"count.{table}"] = len(objs)
        m[f"ids.{table}"] = frozenset(o.id for o in objs)
    for table in ("payments", "refunds", "chargebacks", "subscriptions"):
        m[f"sum.{table}.amount"] = units(sum(o.amount for o in objects[table]))
    for b in w.balances:
        rows = [r for r in w.transactions if r.balance_id == b.id]
        m[f"sum.balance_transactions.result.{b.id}"] = units(sum(r.result for r in rows))
        m[f"sum.balance_transactions.initial.{b.id}"] = units(sum(r.initial for r in rows))
        m[f"sum.balance_transactions.deductions.{b.id}"] = units(sum(r.deductions for r in rows))
        available = sum(r.result for r in rows if r.available_at <= w.now)
        m[f"balances.available.{b.id}"] = units(available)
        m[f"balances.pending.{b.id}"] = units(sum(r.result for r in rows) - available)
        days = report_days(w, b.id, b.created_at, first_load or w)
        m[f"count.reports.{b.id}"] = len(days)
        for day in days:
            end = local_midnight(day + timedelta(days=1))
            before = [r for r in rows if r.created_at < end]
            avail = sum(r.result for r in before if r.available_at < end)
            m[f"close.{b.id}.{day}"] = (units(avail), units(sum(r.result for r in before) - avail))
    m["sum.settlements.amount"] = units(sum(s.amount for s in w.settlements))
    lines = [line for s in w.settlements for line in s.periods]
    m["count.settlement_periods"] = len(lines)
    for kind in ("revenue", "cost"):
        of_kind = [line for line in lines if line.kind == kind]
        m[f"sum.settlement_periods.gross.{kind}"] = units(sum(x.gross for x in of_kind))
        m[f"sum.settlement_periods.net.{kind}"] = units(sum(x.net for x in of_kind))
    for table, attr in SUBLISTS.items():
        ids = [(s.id, i) for s in w.settlements for i in getattr(s, attr)]
        m[f"count.{table}"] = len(ids)
        m[f"sum.{table}.amount"] = units(sum(w.by_id[i].amount for _, i in ids))
    m["count.invoice_lines"] = sum(len(i.lines) for i in w.invoices)
    m["sum.invoice_lines.amount"] = units(sum(x.amount for i in w.invoices for x in i.lines))
    for part in ("net", "vat", "gross"):
        m[f"sum.invoices.{part}"] = units(sum(getattr(i, part) for i in w.invoices))
    renderers = {
        "payments": render.render_payment,
        "refunds": render.render_refund,
        "settlements": render.render_settlement,
        "invoices": render.render_invoice,
        "subscriptions": render.render_subscription,
    }
    for table in STATUS_TABLES:
        statuses = Counter(renderers[table](w, o, "")["status"] for o in objects[table])
        m[f"status.{table}"] = dict(statuses)
    return m


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    return con.execute(sql).fetchone()[0]


def loaded(con: duckdb.DuckDBPyConnection, balance_ids: list[str]) -> Metrics:
    """The same metrics, read from the `mollie` dataset of a warehouse."""
    m: Metrics = {"count.organizations": _one(con, "SELECT count(*) FROM mollie.organizations")}
    for table in ID_TABLES:
        ids = [r[0] for r in con.execute(f"SELECT id FROM mollie.{table}").fetchall()]
        m[f"count.{table}"] = len(ids)
        m[f"ids.{table}"] = frozenset(ids)
    for table in ("payments", "refunds", "chargebacks", "subscriptions"):
        m[f"sum.{table}.amount"] = _one(con, f"SELECT sum(amount) FROM mollie.{table}")
    for bal in balance_ids:
        for part in ("result", "initial"):
            m[f"sum.balance_transactions.{part}.{bal}"] = _one(
                con,
                f"SELECT sum({part}_amount) FROM mollie.balance_transactions "
                f"WHERE balance_id = '{bal}'",
            )
        m[f"sum.balance_transactions.deductions.{bal}"] = _one(
            con,
            "SELECT coalesce(sum(deductions), 0) FROM mollie.balance_transactions "
            f"WHERE balance_id = '{bal}'",
        )
        available, pending = con.execute(
            f"SELECT available_amount, pending_amount FROM mollie.balances WHERE id = '{bal}'"
        ).fetchone()
        m[f"balances.available.{bal}"] = available
        m[f"balances.pending.{bal}"] = pending
        m[f"count.reports.{bal}"] = _one(
            con,
            "SELECT count(DISTINCT report_id) FROM mollie.balance_reports "
            f"WHERE balance_id = '{bal}'",
        )
        closes = con.execute(
            "SELECT date_from, "
            "sum(amount) FILTER (WHERE path = 'availableBalance.close'), "
            "sum(amount) FILTER (WHERE path = 'pendingBalance.close') "
            f"FROM mollie.balance_reports WHERE balance_id = '{bal}' GROUP BY date_from"
        ).fetchall()
        for day, avail, pend in closes:
            m[f"close.{bal}.{day}"] = (avail, pend)
    m["sum.settlements.amount"] = _one(con, "SELECT sum(amount) FROM mollie.settlements")
    m["count.settlement_periods"] = _one(con, "SELECT count(*) FROM mollie.settlement_periods")
    for kind in ("revenue", "cost"):
        for part in ("gross", "net"):
            m[f"sum.settlement_periods.{part}.{kind}"] = _one(
                con,
                f"SELECT coalesce(sum(amount_{part}), 0) FROM mollie.settlement_periods "
                f"WHERE kind = '{kind}'",
            )
    for table in SUBLISTS:
        m[f"count.{table}"] = _one(con, f"SELECT count(*) FROM mollie.{table}")
        m[f"sum.{table}.amount"] = _one(con, f"SELECT coalesce(sum(amount), 0) FROM mollie.{table}")
    m["count.invoice_lines"] = _one(con, "SELECT count(*) FROM mollie.invoice_lines")
    m["sum.invoice_lines.amount"] = _one(con, "SELECT sum(amount) FROM mollie.invoice_lines")
    for part in ("net", "vat", "gross"):
        m[f"sum.invoices.{part}"] = _one(con, f"SELECT sum({part}_amount) FROM mollie.invoices")
    for table in STATUS_TABLES:
        rows = con.execute(f"SELECT status, count(*) FROM mollie.{table} GROUP BY 1").fetchall()
        m[f"status.{table}"] = dict(rows)
    return m


def diff(actual: Metrics, wanted: Metrics) -> dict[str, tuple[Any, Any]]:
    """The metrics that differ, as {key: (actual, expected)} (empty when the load is exact)."""
    keys = set(actual) | set(wanted)
    return {
        k: (actual.get(k), wanted.get(k)) for k in sorted(keys) if actual.get(k) != wanted.get(k)
    }
