"""An `--every-type` world, walked with the real extract, holds every Mollie balance type.

The fixture list is Mollie's own (46 enum values and the 12 further types its description
names). Downstream code (the type map, the books) can only be trusted with types it has met,
so this runs the extract over HTTP into a real DuckDB file and counts each type in
`mollie.balance_transactions`, at two seeds.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import duckdb
import pytest

from extract.pipeline import run_extract
from extract.settings import ClientSettings
from sandbox.generate import SandboxConfig
from sandbox.server import DEFAULT_ACCESS_TOKEN, SandboxServer

FIXTURE = Path(__file__).parents[2] / "fixtures" / "mollie_balance_transaction_types.txt"


def mollie_types() -> list[str]:
    lines = FIXTURE.read_text().splitlines()
    return [line.split("\t")[0] for line in lines if line.strip() and not line.startswith("#")]


@pytest.mark.parametrize("seed", [7, 42])
def test_every_type_reaches_the_warehouse(tmp_path: Path, seed: int) -> None:
    config = SandboxConfig.from_cli(
        seed=seed, payments=400, days=60, now="2026-11-01T00:00:00Z", every_type=True
    )
    db = tmp_path / "warehouse.duckdb"
    with SandboxServer(config) as server:
        settings = ClientSettings(
            base_url=server.base_url, token=DEFAULT_ACCESS_TOKEN, rate_per_second=0
        )
        run_extract(db, settings=settings)
        served = Counter(r.type for r in server.world.transactions)
    con = duckdb.connect(str(db), read_only=True)
    try:
        loaded = Counter(
            dict(
                con.execute(
                    "SELECT type, count(*) FROM mollie.balance_transactions GROUP BY type"
                ).fetchall()
            )
        )
    finally:
        con.close()
    types = mollie_types()
    assert len(types) == 58
    missing = [t for t in types if loaded[t] == 0]
    assert not missing, f"types the extract never saw: {missing}"
    assert loaded == served, "the warehouse holds other rows than the sandbox served"
    assert set(loaded) <= set(types), "a type outside Mollie's list"
