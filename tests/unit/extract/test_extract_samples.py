"""One parse test per Mollie sample file (Python SDK fixtures and mollie-api-php/).

Every amount in each list item or single object must come out
as an exact `Decimal`, every timestamp as aware UTC. Error bodies must decode as problem JSON.
The samples' known quirks are asserted explicitly in test_extract_parse.py.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from mollie_fakes import SAMPLES_DIR, load_sample

from extract.errors import Problem
from extract.parse import (
    context_ids,
    flatten_balance_report,
    flatten_periods,
    parse_amount,
    parse_date,
    parse_timestamp,
)

SAMPLES = sorted(str(p.relative_to(SAMPLES_DIR)) for p in SAMPLES_DIR.rglob("*.json"))
# The one sample that must be quarantined: its `totals` is a stub.
EXPECTED_QUARANTINE = {"balance_report_single.json": "totals.some_data"}


def _records(body: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    """(record, resource) pairs: list items by their `_embedded` key, or the object itself."""
    embedded = body.get("_embedded")
    if "count" in body and isinstance(embedded, dict):
        return [(item, key) for key, items in embedded.items() for item in items]
    return [(body, body["resource"])]


def _amounts(value: object) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        if "value" in value and "currency" in value:
            return [value]
        return [a for k, v in value.items() if k not in ("metadata", "_links") for a in _amounts(v)]
    if isinstance(value, list):
        return [a for v in value for a in _amounts(v)]
    return []


def test_every_sample_is_covered() -> None:
    assert len(SAMPLES) == 67  # 44 Python-SDK + 23 PHP-SDK files


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_parses(name: str) -> None:
    body = load_sample(name)
    if "resource" not in body and "_embedded" not in body:  # an error body
        assert Problem.from_body((SAMPLES_DIR / name).read_bytes()) is not None
        return
    records = _records(body)
    assert records
    for record, resource in records:
        if name in EXPECTED_QUARANTINE:
            continue  # mapped (and quarantined) in test_records.py
        for amount in _amounts(record):
            value, currency = parse_amount(amount)
            assert type(value) is Decimal
            assert str(value) == amount["value"]  # exact, scale kept
            assert len(currency) == 3
        for key, raw in record.items():
            if raw is not None and key.endswith(("At", "Date")):
                parsed = parse_timestamp(raw) if "T" in raw else parse_date(raw)
                assert isinstance(parsed, datetime | date)
                if isinstance(parsed, datetime):
                    assert parsed.tzinfo is UTC
        if record.get("resource") == "settlement":
            for row in flatten_periods(record):
                assert isinstance(row["amount_gross"], Decimal)
        if record.get("resource") == "balance-report":
            assert all(isinstance(r["amount"], Decimal) for r in flatten_balance_report(record))
        if resource == "balance_transactions":
            assert context_ids(record.get("context"))["payment_id"] == "tr_7UhSN1zuXS"
