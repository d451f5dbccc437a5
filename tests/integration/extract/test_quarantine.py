"""Malformed records go to `mollie.quarantine` with the reason and the raw JSON; the rest loads,
the run counts them, and a re-run does not quarantine the same record twice (docs/design.md,
Principles 3).

The sandbox only serves valid data, so a client whose transport forwards to the sandbox over real
HTTP spoils two payments on the way back: one amount written "1,00", one id missing.
"""

from __future__ import annotations

import json

import httpx
from conftest import extract_into, sandbox_config, warehouse

from extract.client import MollieClient
from extract.settings import ClientSettings
from sandbox.server import SandboxServer


def _spoiling_client(settings: ClientSettings) -> MollieClient:
    upstream = httpx.Client()

    def handler(request: httpx.Request) -> httpx.Response:
        answer = upstream.send(httpx.Request(request.method, request.url, headers=request.headers))
        if request.url.path.endswith("/v2/payments") and "from" not in request.url.params:
            body = answer.json()
            first, second = body["_embedded"]["payments"][:2]
            first["amount"]["value"] = "1,00"
            del second["id"]
            return httpx.Response(answer.status_code, headers=answer.headers, json=body)
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)

    return MollieClient(settings, transport=httpx.MockTransport(handler))


def test_malformed_records_are_quarantined_and_counted(tmp_path) -> None:
    db = tmp_path / "w.duckdb"
    with SandboxServer(sandbox_config(seed=7)) as server:
        first = extract_into(db, server, client_factory=_spoiling_client)
        again = extract_into(db, server, client_factory=_spoiling_client, full_refresh=False)
        world = server.world
    profiles = len(world.profiles)  # payments are listed per profile: each first page is spoiled
    assert first.quarantined == {"payments": 2 * profiles}
    assert again.quarantined == {"payments": 2 * profiles}
    assert first.rows["payments"] == len(world.payments) - 2 * profiles
    with warehouse(db) as con:
        rows = con.execute(
            "SELECT table_name, object_id, reason, raw FROM mollie.quarantine ORDER BY reason"
        ).fetchall()
        payments = con.execute("SELECT count(*) FROM mollie.payments").fetchone()[0]
        types = dict(
            con.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'mollie' AND table_name = 'quarantine'"
            ).fetchall()
        )
    assert payments == len(world.payments) - 2 * profiles  # the rest loaded
    assert len(rows) == 2 * profiles  # the re-run merged onto the same rows
    bad_amount = [r for r in rows if r[2].startswith("amount")]
    no_id = [r for r in rows if r[2].startswith("id")]
    assert len(bad_amount) == len(no_id) == profiles
    for table, object_id, reason, raw in bad_amount:
        assert table == "payments" and object_id.startswith("tr_") and "1,00" in reason
        assert json.loads(raw)["amount"]["value"] == "1,00"
    for _, object_id, _, raw in no_id:
        assert object_id is None and "id" not in json.loads(raw)
    assert types["quarantined_at"] == "TIMESTAMP WITH TIME ZONE"
