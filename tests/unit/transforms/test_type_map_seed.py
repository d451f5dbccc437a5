"""The type map (transforms/seeds/balance_transaction_types.csv) covers Mollie's types, once each.

Mollie's list of balance-transaction types is kept in tests/fixtures/ with its source; a type
Mollie documents that the map lacks would fall through to an unknown-type finding on a real
account, so it fails here first.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from transforms.seeds import SEEDS_DIR, load_seeds, read_seed

FIXTURE = Path(__file__).parents[2] / "fixtures" / "mollie_balance_transaction_types.txt"
TYPE_MAP = SEEDS_DIR / "balance_transaction_types.csv"

CATEGORIES = {
    "payment",
    "failed_payment",
    "refund",
    "chargeback",
    "chargeback_reversal",
    "payout",
    "payout_reversal",
    "compensation",
    "fee",
    "commission",
    "split_payment",
    "reserve",
    "loan",
    "correction",
    "transfer_in",
    "internal_transfer",
}
ROLES = {
    "receipts",
    "failed_payments",
    "refunds",
    "chargebacks",
    "bank",
    "fees",
    "commissions",
    "split_payments",
    "reserve",
    "loan",
    "corrections",
    "internal_transfers",
}


def mollie_types() -> dict[str, str]:
    types = {}
    for line in FIXTURE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, source = line.split("\t")
            types[name] = source
    return types


def type_map() -> list[dict[str, str]]:
    header, rows = read_seed(TYPE_MAP)
    return [dict(zip(header, row, strict=True)) for row in rows]


def test_every_type_mollie_documents_is_mapped():
    mapped = {row["type"] for row in type_map()}
    missing = sorted(set(mollie_types()) - mapped)
    assert missing == [], f"types Mollie documents that the type map lacks: {missing}"
    assert len(mollie_types()) == 58


def test_each_type_is_mapped_once_with_valid_values():
    rows = type_map()
    names = [row["type"] for row in rows]
    assert len(names) == len(set(names)), "a type mapped twice"
    for row in rows:
        assert row["category"] in CATEGORIES, row
        assert row["account_role"] in ROLES, row
        assert row["initial_sign"] in {"+", "-", "+/-"}, row
        assert row["settlement_tie"] in {"object", "window", "payout"}, row
        assert row["context_object"] in {
            "payment",
            "capture",
            "refund",
            "chargeback",
            "transfer",
            "invoice",
            "fee",
            "none",
        }, row
        assert row["source"] in {"enum", "description"}, row


def test_the_map_says_where_each_type_comes_from():
    documented = mollie_types()
    for row in type_map():
        if row["type"] in documented:
            assert row["source"] == documented[row["type"]], row["type"]


def test_only_original_objects_are_tied_to_a_settlement_by_object():
    tied = {row["type"] for row in type_map() if row["settlement_tie"] == "object"}
    assert tied == {"payment", "capture", "refund", "chargeback"}
    payouts = {row["type"] for row in type_map() if row["settlement_tie"] == "payout"}
    # A custom-amount transfer is not a settlement's payout: the next settlement sweeps it.
    assert payouts == {"outgoing-transfer"}


def test_compensation_corrects_fees_and_never_rounding():
    for row in type_map():
        assert row["account_role"] != "rounding", row
        if row["type"] in {"invoice-compensation", "invoice-rounding-compensation"}:
            assert (row["category"], row["account_role"]) == ("compensation", "fees")


def test_seeds_load_as_tables():
    con = duckdb.connect()
    assert "balance_transaction_types" in load_seeds(con)
    count, direct_debit = con.execute(
        "select count(*), any_value(category) filter (where type = 'unauthorized-direct-debit') "
        "from seeds.balance_transaction_types"
    ).fetchone()
    assert count == len(type_map())
    assert direct_debit == "failed_payment"
