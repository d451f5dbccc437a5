"""Each alert sensor against a real warehouse, POSTing to a local webhook receiver: one message
per new set of findings, nothing on the next tick, and skipped (not failed) ticks when the
warehouse is busy or missing."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.alert_sensors import WATCHES, alert_sensors, run_failure_alert
from orchestration.warehouse import Warehouse
from quality.gate_results import GATE_TABLE, ensure_gate_table
from reporting.alerts import AlertDeliveryError

SENSORS = {s.name: s for s in alert_sensors}


def tick(name: str, db: Path, cursor: str | None = None) -> tuple[str, str | None]:
    """One evaluation of sensor `name`: (its skip reason, the cursor it leaves)."""
    context = dg.build_sensor_context(
        cursor=cursor, resources={"warehouse": Warehouse(database=str(db))}
    )
    result = SENSORS[name](context)
    assert isinstance(result, dg.SkipReason)  # alert sensors launch nothing
    return result.skip_message or "", context.cursor


def text_of(message: dict) -> str:
    return message["text"]


def first_id(db: Path, sql: str) -> str:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchone()[0]
    finally:
        con.close()


def old_open_chargebacks(db: Path) -> list[str]:
    """Chargebacks the books rightly hold open for over 30 days: a member's bank reversing a
    direct debit (reason MD01) is a chargeback nobody can contest, so it stays open."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "select chargeback_id from marts.chargeback_cases "
            "where state = 'open' and age_days > 30 order by chargeback_id"
        ).fetchall()
    finally:
        con.close()
    return [r[0] for r in rows]


def test_clean_books_alert_nothing(warehouse_with, receiver):
    db = warehouse_with()
    for watch in WATCHES:
        if watch.name == "old_chargeback_alert":
            continue
        reason, cursor = tick(watch.name, db)
        assert reason.startswith("nothing new"), (watch.name, reason)
        assert cursor == "[]"
    assert receiver.messages == []


def test_clean_books_alert_only_the_chargebacks_long_open(warehouse_with, receiver):
    db = warehouse_with()
    old = old_open_chargebacks(db)
    reason, _ = tick("old_chargeback_alert", db)
    if old:
        assert reason == f"{len(old)} new: alert sent"
        assert all(chb in text_of(receiver.messages[0]) for chb in old[:3])
    else:
        assert reason.startswith("nothing new") and receiver.messages == []


def a_matched_settlement(db: Path) -> str:
    return first_id(
        db,
        "select settlement_id from marts.settlement_reconciliation where status = 'matched' "
        "order by settled_at limit 1",
    )


def error_findings(db: Path) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            "select check_name, object_id, cast(abs(difference) as varchar) "
            "from marts.reconciliation_exceptions where severity = 'error' order by all"
        ).fetchall()
    finally:
        con.close()


def test_reconciliation_findings_alert_once(built_warehouse, warehouse_with, receiver):
    stl = a_matched_settlement(built_warehouse)
    db = warehouse_with(f"update mollie.settlements set amount = amount + 0.01 where id = '{stl}'")
    found = error_findings(db)
    assert len(found) >= 3  # ledger net, payout transfer, periods total (and the bank deposit)

    reason, cursor = tick("reconciliation_findings_alert", db)
    assert reason == f"{len(found)} new: alert sent"
    [message] = receiver.messages
    text = text_of(message)
    assert text.startswith(f"New reconciliation findings (severity error): {len(found)} findings")
    for check, object_id, difference in found:  # what, how much, which objects
        assert f"• {check}: 1 · Σ |difference| EUR {difference}" in text
        assert object_id in text
    assert "Where to look: marts.reconciliation_exceptions" in text
    assert "http://dagster.test:3000/assets/marts/reconciliation_exceptions" in text
    assert message["blocks"][0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": text.splitlines()[0]},
    }
    assert any(f"`{stl}`" in b.get("text", {}).get("text", "") for b in message["blocks"])
    assert "<http://dagster.test:3000/" in message["blocks"][-1]["elements"][0]["text"]

    again, cursor_after = tick("reconciliation_findings_alert", db, cursor)
    assert again == f"nothing new ({len(found)} already alerted)"
    assert cursor_after == cursor
    assert len(receiver.messages) == 1, "the same findings are not sent twice"


def test_forecast_anomaly_alert_once(warehouse_with, receiver):
    db = warehouse_with(
        "update mollie.balances set available_amount = -50000 where currency = 'EUR'"
    )
    reason, cursor = tick("forecast_anomaly_alert", db)
    assert "alert sent" in reason
    [message] = receiver.messages
    text = text_of(message)
    assert text.startswith("Balance forecast anomalies: ")
    assert "negative_balance: 1 · lowest expected available EUR -" in text
    assert "bal_" in text and "marts.balance_forecast" in text
    tick("forecast_anomaly_alert", db, cursor)
    assert len(receiver.messages) == 1


def test_overdue_invoice_alert_once(built_warehouse, warehouse_with, receiver):
    inv = first_id(
        built_warehouse,
        "select invoice_id from marts.fee_invoice_reconciliation order by invoice_id limit 1",
    )
    gross = first_id(
        built_warehouse,
        "select cast(invoice_gross as varchar) || ' ' || currency "
        f"from marts.fee_invoice_reconciliation where invoice_id = '{inv}'",
    )
    db = warehouse_with(
        f"update mollie.invoices set status = 'open', paid_at = null, due_at = '2000-01-15' "
        f"where id = '{inv}'"
    )
    reason, cursor = tick("overdue_invoice_alert", db)
    assert reason == "1 new: alert sent"
    [message] = receiver.messages
    text = text_of(message)
    assert text.startswith("Overdue Mollie invoices: 1 invoice")
    amount, currency = gross.split()
    assert f"open: 1 · gross {currency} {amount}" in text
    assert f"{inv} (" in text and "due 2000-01-15" in text
    tick("overdue_invoice_alert", db, cursor)
    assert len(receiver.messages) == 1


@pytest.fixture
def old_chargeback(built_warehouse, warehouse_with) -> tuple[str, Path]:
    """An open chargeback made 60 days older: (its id, the warehouse)."""
    chb = first_id(
        built_warehouse,
        "select chargeback_id from marts.chargeback_cases where state = 'open' "
        "order by chargeback_id limit 1",
    )
    return chb, warehouse_with(
        f"update mollie.chargebacks set created_at = created_at - interval 60 days "
        f"where id = '{chb}'"
    )


def test_old_open_chargeback_alert_once(old_chargeback, receiver):
    chb, db = old_chargeback
    old = old_open_chargebacks(db)
    assert chb in old
    reason, cursor = tick("old_chargeback_alert", db)
    assert reason == f"{len(old)} new: alert sent"
    text = text_of(receiver.messages[0])
    count = f"{len(old)} chargeback" + ("s" if len(old) > 1 else "")
    assert text.startswith(f"Chargebacks open for more than 30 days: {count}")
    assert chb in text and "days)" in text and "marts.chargeback_cases" in text
    tick("old_chargeback_alert", db, cursor)
    assert len(receiver.messages) == 1


def _record_gate(db: Path, asset: str, passed: bool, severity: str, failed: int) -> None:
    con = duckdb.connect(str(db))
    ensure_gate_table(con)
    con.execute(
        f"insert into {GATE_TABLE} values ('run-1', ?, ?, 'quality_gate', ?, ?, ?)",
        [datetime.now(UTC), asset, passed, severity, failed],
    )
    con.close()


def test_failed_gate_alert_once_and_again_after_recovery(warehouse_with, receiver):
    db = warehouse_with()
    assert tick("failed_gate_alert", db)[0].startswith("nothing new"), "no gate table yet"
    _record_gate(db, "staging/stg_mollie__payments", False, "ERROR", 2)
    _record_gate(db, "marts/balance_forecast", True, "ERROR", 0)

    reason, cursor = tick("failed_gate_alert", db)
    assert reason == "1 new: alert sent"
    text = text_of(receiver.messages[0])
    assert text.startswith("Failed quality gates: 1 gate")
    assert "ERROR: 1" in text
    assert "staging/stg_mollie__payments quality_gate (2 failed)" in text
    assert tick("failed_gate_alert", db, cursor)[0].startswith("nothing new")

    # Fixed (passes), then fails again: that is news again.
    _record_gate(db, "staging/stg_mollie__payments", True, "ERROR", 0)
    reason, cursor = tick("failed_gate_alert", db, cursor)
    assert cursor == "[]"
    _record_gate(db, "staging/stg_mollie__payments", False, "ERROR", 1)
    assert tick("failed_gate_alert", db, cursor)[0] == "1 new: alert sent"
    assert len(receiver.messages) == 2


def test_a_refusing_webhook_fails_the_tick_and_the_next_tick_retries(
    built_warehouse, warehouse_with, receiver
):
    stl = a_matched_settlement(built_warehouse)
    db = warehouse_with(f"update mollie.settlements set amount = amount + 0.01 where id = '{stl}'")
    receiver.status = 500
    with pytest.raises(AlertDeliveryError, match="HTTP 500") as failed:
        tick("reconciliation_findings_alert", db)
    assert receiver.url not in str(failed.value), "the webhook URL is a secret"
    receiver.status = 200
    reason, _ = tick("reconciliation_findings_alert", db)  # the cursor never moved
    assert reason == f"{len(error_findings(db))} new: alert sent"


def test_without_a_webhook_url_alerts_are_logged(old_chargeback, monkeypatch, caplog):
    monkeypatch.delenv("MOLLIE_LEDGER_ALERT_WEBHOOK_URL", raising=False)
    chb, db = old_chargeback
    reason, _ = tick("old_chargeback_alert", db)
    assert reason == f"{len(old_open_chargebacks(db))} new: alert logged (no webhook URL)"
    assert chb in caplog.text


def test_missing_or_locked_warehouse_skips_the_tick(warehouse_with, tmp_path, receiver):
    reason, cursor = tick("reconciliation_findings_alert", tmp_path / "nothing.duckdb")
    assert reason.startswith("no warehouse at") and cursor is None

    db = warehouse_with()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('locked', "
            "flush=True); time.sleep(60)",
            str(db),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        reason, cursor = tick("overdue_invoice_alert", db)
        assert "is busy" in reason and "trying again next tick" in reason
        assert cursor is None
    finally:
        holder.terminate()
        holder.wait(timeout=10)
    assert receiver.messages == []


def test_run_failure_alert(receiver, monkeypatch):
    monkeypatch.setenv("MOLLIE_ACCESS_TOKEN", "access_not-a-real-token-123")

    @dg.asset
    def broken_asset() -> None:
        raise ValueError(
            "cannot load: access_not-a-real-token-123 refused for jan.jansen@example.com"
        )

    with dg.instance_for_test() as instance:
        result = dg.materialize([broken_asset], instance=instance, raise_on_error=False)
        assert not result.success
        run = instance.get_run_by_id(result.run_id)
        failure = next(
            e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE
        )
        context = dg.build_run_status_sensor_context(
            sensor_name="run_failure_alert",
            dagster_event=failure,
            dagster_instance=instance,
            dagster_run=run,
        ).for_run_failure()
        run_failure_alert(context)

    [message] = receiver.messages
    text = text_of(message)
    assert text.startswith(f"Run failed: {run.job_name}: 1 failed step")
    assert "• broken_asset: 1 · ValueError: cannot load: *** refused for [email]" in text
    assert f"Where to look: the log of Dagster run {run.run_id}" in text
    assert f"http://dagster.test:3000/runs/{run.run_id}" in text
    assert "access_not-a-real-token-123" not in str(message)
    assert "jan.jansen@example.com" not in str(message)


def test_with_several_organizations_each_alert_names_its_organization(
    warehouse_with, receiver, tmp_path, monkeypatch
):
    """Each warehouse sensor reads every organization's own warehouse; an alert line says whose
    it is, and one organization without a warehouse yet does not hide another's findings."""
    import shutil

    import orchestration.alert_sensors as sensors
    from extract.organizations import Organization

    anomalous = warehouse_with(
        "update mollie.balances set available_amount = -50000 where currency = 'EUR'"
    )
    north, south = (
        Organization(
            name=name,
            token_env=f"MOLLIE_TOKEN_{name.upper()}",
            ledger_config=tmp_path / "ledger.toml",
            folder=tmp_path / name,
            bank_dir=tmp_path / name / "bank",
        )
        for name in ("north", "south")
    )
    (tmp_path / "north").mkdir()
    shutil.copy(anomalous, north.warehouse)
    monkeypatch.setattr(sensors, "MANY", True)
    monkeypatch.setattr(sensors, "ORGANIZATIONS", [north, south])

    reason, cursor = tick("forecast_anomaly_alert", anomalous)
    assert "alert sent" in reason and "no warehouse at" in reason  # south has none yet
    [message] = receiver.messages
    assert "north: bal_" in text_of(message) and "south" not in text_of(message)
    assert all(key.startswith("north:") for key in json.loads(cursor))
