"""The sandbox world is deterministic, grows consistently with time, and never drifts a cent."""

from __future__ import annotations

from sandbox.clock import DAY
from sandbox.generate import SandboxConfig, build_world
from sandbox.model import NEVER

CONFIG = SandboxConfig.from_cli(seed=11, payments=900, days=60, now="2026-10-15T12:00:00Z")


def snapshot(world, until: int) -> dict:
    """Everything immutable about the world's history up to `until`."""
    return {
        "payments": [
            (p.id, p.created_at, p.amount, p.currency, p.method)
            for p in world.payments
            if p.created_at <= until
        ],
        "ledger": [
            (r.id, r.type, r.created_at, r.initial, r.deductions, r.settlement_id)
            for r in world.transactions
            if r.created_at <= until
        ],
        "settlements": [
            (s.id, s.reference, s.amount, s.created_at, tuple(s.transaction_ids))
            for s in world.settlements
            if s.created_at <= until
        ],
        "invoices": [(i.id, i.reference, i.gross) for i in world.invoices if i.issued_at <= until],
        "customers": [(c.id, c.name, c.email) for c in world.customers if c.created_at <= until],
    }


def test_same_config_same_world():
    assert snapshot(build_world(CONFIG), CONFIG.now) == snapshot(build_world(CONFIG), CONFIG.now)


def test_other_seed_other_world():
    other = build_world(
        SandboxConfig(
            seed=12, start=CONFIG.start, now=CONFIG.now, payments_per_day=CONFIG.payments_per_day
        )
    )
    assert (
        snapshot(other, CONFIG.now)["payments"]
        != snapshot(build_world(CONFIG), CONFIG.now)["payments"]
    )


def test_later_now_keeps_history_and_adds_activity():
    before = build_world(CONFIG)
    after = build_world(CONFIG.advanced(CONFIG.now + 3 * DAY))
    old, new = snapshot(before, CONFIG.now), snapshot(after, CONFIG.now)
    # Ledger rows created before the first `now` are identical; only those that were still
    # unswept may have been swept by a payout after it.
    assert [r[:5] for r in new["ledger"]] == [r[:5] for r in old["ledger"]]
    for a, b in zip(old["ledger"], new["ledger"], strict=True):
        assert a[5] is None or a[5] == b[5]
    for key in ("payments", "settlements", "invoices", "customers"):
        assert new[key] == old[key], key
    assert len(after.payments) > len(before.payments)
    assert len(after.settlements) > len(before.settlements)


def test_recent_objects_change_status_later():
    before = build_world(CONFIG)
    after = build_world(CONFIG.advanced(CONFIG.now + 5 * DAY))
    unsettled = {
        r.id
        for r in before.transactions
        if r.settlement_id is None and r.type != "outgoing-transfer"
    }
    later = {r.id: r.settlement_id for r in after.transactions}
    assert any(later[i] for i in unsettled), "nothing unsettled was paid out five days later"
    in_flight = (
        [p.id for p in before.payments if before.now < p.final_at != NEVER]
        + [r.id for r in before.refunds if r.processed_at > before.now]
        + [s.id for s in before.settlements if s.paidout_at > before.now]
    )
    assert in_flight, "nothing was in flight at the first now: no status would change"


def test_payout_sweeps_everything_available_and_balance_returns_to_zero():
    world = build_world(CONFIG)
    for s in world.settlements:
        available_after = sum(
            r.result
            for r in world.transactions
            if r.balance_id == s.balance_id
            and r.available_at <= s.created_at
            and r.created_at <= s.created_at
        )
        assert available_after == 0, s.reference


def test_every_fee_is_vat_inclusive_and_rounded_to_cents():
    world = build_world(CONFIG)
    for r in world.transactions:
        assert r.deductions <= 0 and r.deductions % 100 == 0
        if r.deductions:
            assert -r.deductions >= r.fee_net  # the VAT part is never negative
