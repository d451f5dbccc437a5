"""`mollie-ledger demo --platform / --every-type` serves the opt-in worlds; without them the
default world (what `make demo` runs) has none of their types.

The pipeline run is replaced by a look at what the sandbox serves while the demo runs: the
flags must reach the world behind MOLLIE_API_BASE_URL, not just the command line.
"""

from __future__ import annotations

import os

import httpx
import pytest
from click.testing import CliRunner

import cli.dev
from cli.main import main

PLATFORM_ONLY = "application-fee"  # a Connect platform's type
EVERY_TYPE_ONLY = "balance-reserve"  # only the --every-type world books one


def served_types() -> set[str]:
    base, token = os.environ["MOLLIE_API_BASE_URL"], os.environ["MOLLIE_ACCESS_TOKEN"]
    headers = {"Authorization": f"Bearer {token}"}
    types: set[str] = set()
    with httpx.Client(headers=headers, timeout=30) as client:
        url: str | None = f"{base}/balances/primary/transactions?limit=250"
        while url:
            page = client.get(url).raise_for_status().json()
            types |= {t["type"] for t in page["_embedded"]["balance_transactions"]}
            url = (page["_links"].get("next") or {}).get("href")
    return types


@pytest.mark.parametrize(
    ("flags", "present", "absent"),
    [
        ([], set(), {PLATFORM_ONLY, EVERY_TYPE_ONLY}),
        (["--platform"], {PLATFORM_ONLY}, {EVERY_TYPE_ONLY}),
        (["--every-type"], {PLATFORM_ONLY, EVERY_TYPE_ONLY}, set()),
    ],
)
def test_demo_flags_reach_the_served_world(tmp_path, monkeypatch, flags, present, absent):
    for name in ("MOLLIE_LEDGER_EXPORT_DIR", "MOLLIE_LEDGER_REPORT_DIR"):
        monkeypatch.setenv(name, "")  # the demo sets them; restored afterwards
    seen: list[set[str]] = []
    monkeypatch.setattr(cli.dev, "run_and_report", lambda db: seen.append(served_types()))
    args = ["demo", "--payments", "150", "--days", "40", "--folder", str(tmp_path), *flags]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    (types,) = seen
    assert "failed-payment" in types  # the association's life is always there
    assert present <= types and not (absent & types)
