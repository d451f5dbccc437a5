"""Sensors that alert (reporting.alerts) on what someone must look at.

- new reconciliation findings of severity error (marts.reconciliation_exceptions)
- forecast anomalies (marts.balance_forecast: negative balance, missed payout, unusual activity)
- overdue Mollie fee invoices (open or overdue past their due date)
- open chargebacks older than 30 days (marts.chargeback_cases)
- failed quality gates (their latest result in quality.gate_results)
- failed runs (a run-failure sensor)

Each warehouse sensor reads the marts read-only and alerts only about what it has not alerted
before: the cursor keeps the keys of everything already sent that is still present. A finding
that disappears (fixed) and later comes back is new again. When the warehouse is busy (a run
holds its write lock) or not built yet, the tick is skipped, not failed. With several
organizations each sensor reads every organization's warehouse and names the organization in
each alert line. A webhook that refuses
fails the tick without moving the cursor, so the next tick tries the same alert again.

All default to STOPPED: turn them on in the UI (Automation) once MOLLIE_LEDGER_ALERT_WEBHOOK_URL
is set; without it they only log what they would send.
"""

# No `from __future__ import annotations`: Dagster reads the `context` and resource annotations
# of a sensor at definition time and does not resolve string annotations.

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

import dagster as dg
import duckdb

from orchestration.organizations import MANY, ORGANIZATIONS
from orchestration.run_events import step_failure_message
from orchestration.warehouse import Warehouse, WarehouseUnavailable
from quality.gate_results import read_latest_results
from reporting.alerts import Alert, Group, Item, group_items, scrub, send

INTERVAL_SECONDS = 120  # the marts change once a run; a two-minute delay is plenty
OLD_CHARGEBACK_DAYS = 30
STOPPED = dg.DefaultSensorStatus.STOPPED
Collect = Callable[[duckdb.DuckDBPyConnection], list[Item]]


def _query(sql: str) -> Collect:
    """Items from SQL returning (key, group, object_id, currency, amount) rows."""
    return lambda con: [Item(*row) for row in con.execute(sql).fetchall()]


def _failed_gates(con: duckdb.DuckDBPyConnection) -> list[Item]:
    # Keyed without the run: a gate that keeps failing is one alert, not one per daily run.
    return [
        Item(
            key=f"{r.asset_key}:{r.check_name}:{r.severity}",
            group=r.severity,
            object_id=f"{r.asset_key} {r.check_name} ({r.failed_expectations} failed)",
        )
        for r in read_latest_results(con)
        if not r.passed
    ]


@dataclass(frozen=True)
class Watch:
    name: str
    what: str  # the alert's headline
    where: str
    ui_path: str
    collect: Collect
    unit: tuple[str, str]
    amount_label: str = "amount"
    aggregate: Literal["sum", "min"] = "sum"

    def alert(self, items: list[Item]) -> Alert:
        return Alert(
            what=self.what,
            where=self.where,
            groups=group_items(items, self.aggregate),
            ui_path=self.ui_path,
            amount_label=self.amount_label,
            unit=self.unit,
        )


WATCHES = (
    Watch(
        name="reconciliation_findings_alert",
        what="New reconciliation findings (severity error)",
        where="marts.reconciliation_exceptions where severity = 'error' (by check_name)",
        ui_path="/assets/marts/reconciliation_exceptions",
        collect=_query(
            """select check_name || ':' || object_id, check_name, object_id, currency,
                      abs(difference)
               from marts.reconciliation_exceptions where severity = 'error'
               order by check_name, object_id"""
        ),
        unit=("finding", "findings"),
        amount_label="Σ |difference|",
    ),
    Watch(
        name="forecast_anomaly_alert",
        what="Balance forecast anomalies",
        where="marts.balance_forecast where is_anomaly",
        ui_path="/assets/marts/balance_forecast",
        collect=_query(
            """with flagged as (
                   select balance_id, currency, forecast_date, expected_available,
                          unnest(string_split(anomaly_reason, ', ')) as reason
                   from marts.balance_forecast where is_anomaly)
               select balance_id || ':' || reason, reason,
                      balance_id || ' from ' || min(forecast_date), any_value(currency),
                      min(expected_available)
               from flagged group by balance_id, reason order by reason, balance_id"""
        ),
        unit=("anomaly", "anomalies"),
        amount_label="lowest expected available",
        aggregate="min",
    ),
    Watch(
        name="overdue_invoice_alert",
        what="Overdue Mollie invoices",
        where="marts.fee_invoice_reconciliation (Mollie Dashboard → Invoices)",
        ui_path="/assets/marts/fee_invoice_reconciliation",
        collect=_query(
            """select invoice_id, status,
                      invoice_id || ' (' || reference || ', due ' || due_date || ')',
                      currency, invoice_gross
               from marts.fee_invoice_reconciliation
               where status in ('open', 'overdue') and due_date < current_date
               order by due_date, invoice_id"""
        ),
        unit=("invoice", "invoices"),
        amount_label="gross",
    ),
    Watch(
        name="old_chargeback_alert",
        what=f"Chargebacks open for more than {OLD_CHARGEBACK_DAYS} days",
        where="marts.chargeback_cases where state = 'open' (by priority)",
        ui_path="/assets/marts/chargeback_cases",
        collect=_query(
            f"""select chargeback_id, priority, chargeback_id || ' (' || age_days || ' days)',
                       currency, amount
                from marts.chargeback_cases
                where state = 'open' and age_days > {OLD_CHARGEBACK_DAYS}
                order by priority_score desc, age_days desc, chargeback_id"""
        ),
        unit=("chargeback", "chargebacks"),
    ),
    Watch(
        name="failed_gate_alert",
        what="Failed quality gates",
        where="quality.gate_results, and the check's Data Docs in its metadata",
        ui_path="/assets",
        collect=_failed_gates,
        unit=("gate", "gates"),
    ),
)


def sent_keys(cursor: str | None) -> set[str]:
    return set(json.loads(cursor)) if cursor else set()


def notify_new(context: dg.SensorEvaluationContext, watch: Watch, items: list[Item]) -> str:
    """Alert about the items not alerted before; remember what is present now. What it did."""
    sent = sent_keys(context.cursor)
    new = [item for item in items if item.key not in sent]
    delivered = send(watch.alert(new)) if new else None
    # Only after sending: a failed send raises, the cursor stays, the next tick retries.
    context.update_cursor(json.dumps(sorted({item.key for item in items})))
    if not new:
        return f"nothing new ({len(items)} already alerted)"
    return f"{len(new)} new: alert {'sent' if delivered else 'logged (no webhook URL)'}"


def _of(organization: str, item: Item) -> Item:
    return replace(
        item, key=f"{organization}:{item.key}", object_id=f"{organization}: {item.object_id}"
    )


def _warehouse_sensor(watch: Watch) -> dg.SensorDefinition:
    @dg.sensor(
        name=watch.name,
        minimum_interval_seconds=INTERVAL_SECONDS,
        default_status=STOPPED,
        description=f"Alerts on: {watch.what.lower()} ({watch.where}); each once.",
    )
    def _sensor(context: dg.SensorEvaluationContext, warehouse: Warehouse) -> dg.SkipReason:
        items: list[Item] = []
        waiting: list[str] = []
        for org in ORGANIZATIONS:
            try:
                with warehouse.for_organization(org).read_only() as con:
                    found = watch.collect(con)
            except WarehouseUnavailable as exc:
                waiting.append(str(exc))
                continue
            except duckdb.CatalogException as exc:
                waiting.append(f"not built yet: {str(exc).splitlines()[0]}")
                continue
            # With several organizations each item says whose it is (and is keyed by it).
            items += [_of(org.name, item) for item in found] if MANY else found
        if waiting and not items:
            return dg.SkipReason(f"{'; '.join(waiting)}; trying again next tick")
        # A sensor that launches nothing reports what it did as its skip reason.
        done = notify_new(context, watch, items)
        return dg.SkipReason(done + (f" ({'; '.join(waiting)})" if waiting else ""))

    return _sensor


def run_failure_alert_for(
    run: dg.DagsterRun, step_failures: list[dg.DagsterEvent], run_message: str | None
) -> Alert:
    groups = tuple(
        Group(label=event.step_key or "step", count=1, detail=scrub(step_failure_message(event)))
        for event in step_failures
    ) or (Group(label="run", count=1, detail=scrub(run_message or "failed")),)
    return Alert(
        what=f"Run failed: {run.job_name}",
        where=f"the log of Dagster run {run.run_id}",
        groups=groups,
        ui_path=f"/runs/{run.run_id}",
        unit=("failed step", "failed steps"),
    )


@dg.run_failure_sensor(
    name="run_failure_alert",
    default_status=STOPPED,
    description="Alerts when a run of this code location fails: the job, the failed steps "
    "and their error messages. Dagster sees each failed run once.",
)
def run_failure_alert(context: dg.RunFailureSensorContext) -> None:
    message = context.failure_event.message if context.failure_event else None
    send(run_failure_alert_for(context.dagster_run, context.get_step_failure_events(), message))


alert_sensors = [*(_warehouse_sensor(w) for w in WATCHES), run_failure_alert]
