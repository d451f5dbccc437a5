"""The extract, over HTTP, sees the objects follow the ledger: a returned direct debit is a
`failed` payment with its bank's reason, a reversed one a paid payment with an MD01
chargeback, a returned refund a `failed` refund. The first extract runs before any of that
happened; the clock then moves on and a second extract into the same DuckDB file must pick up
the changed statuses of objects it had already loaded.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import httpx

from extract.pipeline import run_extract
from extract.settings import ClientSettings
from sandbox.clock import parse_instant
from sandbox.generate import SandboxConfig
from sandbox.server import DEFAULT_ACCESS_TOKEN, SandboxServer

START = "2026-09-01T00:00:00Z"
FIRST_RUN = "2026-09-06T00:00:00Z"  # before this world's first return, reversal and refund


def ledger_ids(world, type_: str, key: str) -> set[str]:
    return {r.context[key] for r in world.transactions if r.type == type_}


def query(db: Path, sql: str, ids: set[str]) -> dict[str, tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(sql, [sorted(ids)]).fetchall()
    finally:
        con.close()
    return {r[0]: r[1:] for r in rows}


def test_the_warehouse_sees_statuses_that_follow_the_ledger(tmp_path: Path) -> None:
    config = SandboxConfig.from_cli(seed=42, payments=1500, days=61, now=FIRST_RUN, start=START)
    db = tmp_path / "warehouse.duckdb"
    with SandboxServer(config) as server:
        settings = ClientSettings(
            base_url=server.base_url, token=DEFAULT_ACCESS_TOKEN, rate_per_second=0
        )
        run_extract(db, settings=settings)
        world = server.advance("2026-11-01T00:00:00Z")
        run_extract(db, settings=settings)

    failed = ledger_ids(world, "failed-payment", "paymentId")
    reversed_ = ledger_ids(world, "unauthorized-direct-debit", "paymentId")
    returned = ledger_ids(world, "returned-refund", "refundId")
    assert failed and reversed_ and returned
    first_run = parse_instant(FIRST_RUN)
    changed = {"failed-payment", "unauthorized-direct-debit", "returned-refund"}
    assert all(r.created_at > first_run for r in world.transactions if r.type in changed)

    payments = query(
        db,
        "select id, status, failed_at is not null, details->>'bankReasonCode' "
        "from mollie.payments where id in (select unnest(?))",
        failed,
    )
    assert set(payments) == failed
    for status, has_failed_at, code in payments.values():
        assert status == "failed" and has_failed_at and code

    paid = query(
        db,
        "select p.id, p.status, p.amount_charged_back, c.reason_code, c.amount "
        "from mollie.payments p join mollie.chargebacks c on c.payment_id = p.id "
        "where p.id in (select unnest(?))",
        reversed_,
    )
    assert set(paid) == reversed_
    for status, charged_back, code, cb_amount in paid.values():
        assert status == "paid" and code == "MD01" and charged_back == cb_amount

    refunds = query(
        db, "select id, status from mollie.refunds where id in (select unnest(?))", returned
    )
    assert refunds == {r: ("failed",) for r in returned}


def test_a_platform_token_sees_connected_payments_only_as_ledger_ids() -> None:
    config = SandboxConfig.from_cli(
        seed=7, payments=150, days=20, now="2026-11-01T00:00:00Z", platform=True
    )
    with SandboxServer(config) as server:
        world = server.world
        connected = {
            r.context["paymentId"]
            for r in world.transactions
            if r.type in ("application-fee", "split-payment", "platform-payment-refund")
        }
        assert connected and not connected & {p.id for p in world.payments}
        headers = {"Authorization": f"Bearer {DEFAULT_ACCESS_TOKEN}"}
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as client:
            for payment_id in sorted(connected)[:5]:
                answer = client.get(f"/payments/{payment_id}")
                assert answer.status_code == 404, answer.text
                assert answer.json()["detail"] == f"No payment exists with token {payment_id}."
