"""`sandbox_organizations` serves several organizations from one sandbox and points the
settings at them for the block: each token variable opens its own world, each bank folder holds
its own statement, no shared token is left to fall back on, and afterwards the environment is
exactly as it was (as with `sandbox_environment`)."""

from __future__ import annotations

import httpx

from extract.organizations import load_organizations, missing_tokens
from sandbox.demo import sandbox_environment, sandbox_organizations

SMALL = {"MOLLIE_LEDGER_SANDBOX_PAYMENTS": "120", "MOLLIE_LEDGER_SANDBOX_DAYS": "20"}
BEFORE = {
    **SMALL,
    "MOLLIE_ACCESS_TOKEN": "access_someone0elses",
    "SOURCES__MOLLIE__ACCESS_TOKEN": "access_dlt0secret",
    "MOLLIE_LEDGER_BANK_DIR": "/srv/bank",
    "MOLLIE_RATE_PER_SECOND": "3",
    "UNRELATED": "kept",
}


def test_each_organization_is_served_and_the_environment_restored(tmp_path):
    env = dict(BEFORE)
    with sandbox_organizations(tmp_path, 3, env) as (server, orgs):
        assert "MOLLIE_ACCESS_TOKEN" not in env and "MOLLIE_LEDGER_BANK_DIR" not in env
        assert "SOURCES__MOLLIE__ACCESS_TOKEN" not in env
        assert env["MOLLIE_RATE_PER_SECOND"] == "3"  # set before: kept
        assert env["MOLLIE_LEDGER_PII_KEY"]
        organizations = load_organizations(env)
        assert [o.name for o in organizations] == orgs.names
        assert missing_tokens(organizations, env) == []
        ids = set()
        for o, product in zip(orgs.organizations, organizations, strict=True):
            world = server.worlds[o.token]
            assert world.config.seed == o.seed and len(world.payments) < 200  # env's settings
            me = httpx.get(
                f"{env['MOLLIE_API_BASE_URL']}/organizations/me",
                headers={"Authorization": f"Bearer {product.token(env)}"},
                timeout=30,
            )
            assert me.status_code == 200 and me.json()["id"] == world.organization.id
            ids.add(me.json()["id"])
            # Its bank folder holds a statement of each of its own payout accounts.
            statements = sorted(p.name for p in product.bank_dir.iterdir())
            assert statements and all(s.startswith("camt053_") for s in statements)
            assert all(any(b.iban in s for s in statements) for b in world.balances)
        assert len(ids) == 3
        # A bank folder holds only its own organization's statements.
        folders = [{p.name for p in o.bank_dir.iterdir()} for o in orgs.organizations]
        assert sum(map(len, folders)) == len(set().union(*folders))
    assert env == BEFORE


def test_sandbox_environment_restores_the_environment(tmp_path):
    env = dict(BEFORE)
    with sandbox_environment(tmp_path / "bank", env=env) as server:
        assert env["MOLLIE_ACCESS_TOKEN"] == server.access_token
        assert env["MOLLIE_LEDGER_BANK_DIR"] == str(tmp_path / "bank")
        assert "SOURCES__MOLLIE__ACCESS_TOKEN" not in env
        assert env["MOLLIE_RATE_PER_SECOND"] == "3"
    assert env == BEFORE
