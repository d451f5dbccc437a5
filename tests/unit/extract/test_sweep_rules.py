"""When a mutable list's look-back sweep is due, and when an open settlement is unchanged."""

from datetime import UTC, datetime, timedelta

from extract.source import fingerprint, sweep_due

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
HEADS = {"bal_a": "baltr_1", "bal_b": None}
EVERY = timedelta(hours=12)


def last(hours_ago: float, heads=HEADS) -> dict:
    return {"at": (NOW - timedelta(hours=hours_ago)).isoformat(), "ledger_heads": dict(heads)}


def test_no_sweep_when_recent_and_no_money_moved() -> None:
    assert not sweep_due(last(1), HEADS, NOW, EVERY)


def test_sweep_when_never_swept() -> None:
    assert sweep_due({}, HEADS, NOW, EVERY)


def test_sweep_when_the_last_is_old() -> None:
    assert sweep_due(last(12), HEADS, NOW, EVERY)
    assert not sweep_due(last(11.9), HEADS, NOW, EVERY)


def test_sweep_when_money_moved_in_any_balance() -> None:
    assert sweep_due(last(1), {"bal_a": "baltr_2", "bal_b": None}, NOW, EVERY)
    assert sweep_due(last(1), {**HEADS, "bal_c": "baltr_9"}, NOW, EVERY)  # a new balance


def test_zero_hours_sweeps_every_run() -> None:
    assert sweep_due(last(0), HEADS, NOW, timedelta(0))


def test_an_unreadable_record_of_the_last_sweep_sweeps() -> None:
    assert sweep_due({"at": "yesterday", "ledger_heads": HEADS}, HEADS, NOW, EVERY)


def test_fingerprint_ignores_links_and_key_order_but_not_content() -> None:
    s = {"id": "stl_1", "amount": {"value": "10.00", "currency": "EUR"}, "_links": {"a": 1}}
    same = {"_links": {"b": 2}, "amount": {"currency": "EUR", "value": "10.00"}, "id": "stl_1"}
    more = {**s, "amount": {"value": "12.50", "currency": "EUR"}}
    assert fingerprint(s) == fingerprint(same)
    assert fingerprint(s) != fingerprint(more)
