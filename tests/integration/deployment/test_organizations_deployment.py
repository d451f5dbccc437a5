"""One deployment, three organizations: `mollie-ledger run` against one sandbox serving three
tokens (one world each) and one Frappe stand-in holding three companies.

Each organization must land in its own warehouse, publication, CSV export and ERPNext company,
and no Mollie id of one may appear in another's. A revoked token then fails its organization's
run alone, while the others run again and post nothing twice."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from deployment_helpers import PII_KEY, RunResult, clean_env, run_cli

from sandbox.demo import sandbox_organizations
from sandbox.frappe import FrappeTestServer
from sandbox.organizations import SandboxOrganizations
from sandbox.server import SandboxServer

pytestmark = pytest.mark.slow

# Mollie ids as they appear anywhere (a posting key embeds its balance id: mollie-day-bal_…).
MOLLIE_ID = re.compile(
    r"(?<![A-Za-z0-9])(?:org|pfl|bal|baltr|stl|tr|re|chb|cst|sub|cpt)_[A-Za-z0-9]+"
)
RAW_IDS = ("payments", "balances", "settlements", "balance_transactions", "customers")


@dataclass
class Deployment:
    server: SandboxServer
    orgs: SandboxOrganizations
    frappe: FrappeTestServer
    env: dict[str, str]
    folder: Path

    def run(self, *args: str) -> RunResult:
        return run_cli(self.env, "run", *args, timeout=900, cwd=self.folder)

    def world_ids(self, name: str) -> set[str]:
        world = self.server.worlds[self.orgs[name].token]
        return set(world.by_id) | {world.organization.id}

    def entries_of(self, name: str) -> list[dict]:
        company = self.orgs[name].company
        return [e for e in self.frappe.journal_entries.values() if e["company"] == company]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory) -> Iterator[Deployment]:
    folder = tmp_path_factory.mktemp("organizations")
    env = clean_env(
        MOLLIE_LEDGER_SANDBOX_PAYMENTS="400",
        MOLLIE_LEDGER_SANDBOX_DAYS="45",
        MOLLIE_LEDGER_PII_KEY=PII_KEY,
    )
    with sandbox_organizations(folder, 3, env=env) as (server, orgs):
        with FrappeTestServer(orgs.chart(), company=orgs.organizations[0].company) as frappe:
            env.update(
                {
                    "FRAPPE_URL": frappe.url,
                    "FRAPPE_API_KEY": frappe.api_key,
                    "FRAPPE_API_SECRET": frappe.api_secret,
                }
            )
            yield Deployment(server, orgs, frappe, env, folder)


@pytest.fixture(scope="module")
def first_run(deployment) -> RunResult:
    result = deployment.run()
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return result


def _ids(text: str) -> set[str]:
    return set(MOLLIE_ID.findall(text))


def _warehouse_ids(path: Path, schema: str, tables: tuple[str, ...]) -> set[str]:
    with duckdb.connect(str(path), read_only=True) as con:
        found: set[str] = set()
        for table in tables:
            found |= {r[0] for r in con.execute(f"select id from {schema}.{table}").fetchall()}
        return found


def _published_ids(path: Path) -> set[str]:
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute(
            "select posting_key, source_id from marts.journal_entries "
            "union all select settlement_id, null from marts.settlement_reconciliation"
        ).fetchall()
    return _ids(json.dumps(rows))


def _csv_ids(folder: Path) -> set[str]:
    return _ids("\n".join(p.read_text() for p in sorted(folder.glob("*.csv"))))


def test_one_run_loads_each_organization_into_its_own_warehouse(deployment, first_run) -> None:
    for org in deployment.orgs.organizations:
        assert f"== organization {org.name}" in first_run.stdout
        warehouse = org.folder / "mollie_ledger.duckdb"
        with duckdb.connect(str(warehouse), read_only=True) as con:
            (org_id,) = con.execute("select id from mollie.organizations").fetchone()
            payments = con.execute("select count(*) from mollie.payments").fetchone()[0]
            # Run from another folder than the project's, dlt still stamps every row's load.
            unstamped = con.execute(
                "select count(*) from mollie.payments where _dlt_load_id is null"
            ).fetchone()[0]
        world = deployment.server.worlds[org.token]
        assert org_id == world.organization.id
        assert payments == len(world.payments) > 0
        assert unstamped == 0
    assert "3 organization(s): 3 succeeded" in first_run.stdout


def test_no_id_of_one_organization_appears_in_anothers_files_or_books(
    deployment, first_run
) -> None:
    names = deployment.orgs.names
    for org in deployment.orgs.organizations:
        own = deployment.world_ids(org.name)
        others = set().union(*(deployment.world_ids(n) for n in names if n != org.name))
        entries = deployment.entries_of(org.name)
        places = {
            "warehouse": _warehouse_ids(org.folder / "mollie_ledger.duckdb", "mollie", RAW_IDS),
            "publication": _published_ids(org.folder / "mollie_ledger.published.duckdb"),
            "csv export": _csv_ids(org.folder / "exports"),
            "Frappe company": _ids(json.dumps(entries, default=str)),
        }
        for place, ids in places.items():
            assert ids & own, f"{org.name}: its {place} holds none of its own ids"
            assert not ids & others, f"{org.name}: its {place} holds {sorted(ids & others)[:5]}"
        # Every entry it posted is in its own company, and only those.
        with duckdb.connect(str(org.folder / "mollie_ledger.duckdb"), read_only=True) as con:
            posted = {
                r[0]
                for r in con.execute(
                    "select frappe_name from export.outbox_current where status = 'posted'"
                ).fetchall()
            }
        assert posted and posted == {e["name"] for e in entries}


def test_a_revoked_token_fails_only_its_organization_and_nothing_posts_twice(
    deployment, first_run
) -> None:
    before = {n: len(deployment.entries_of(n)) for n in deployment.orgs.names}
    victim, *others = deployment.orgs.organizations
    env = {**deployment.env, victim.token_env: "access_revoked0000000000000000000000"}
    result = run_cli(env, "run", timeout=900, cwd=deployment.folder)

    assert result.returncode == 1, result.stdout[-3000:]
    failed_line = f"organization {victim.name} (token {victim.token_env})"
    assert failed_line in result.stdout and "401" in result.stdout, result.stdout[-3000:]
    assert f"1 failed ({victim.name})" in result.stdout
    for org in others:
        block = result.stdout.split(f"== organization {org.name}", 1)[1].split("== organization")[0]
        assert "FAILED" not in block, block
    after = {n: len(deployment.entries_of(n)) for n in deployment.orgs.names}
    assert after == before  # the rerun found every entry posted; the failed one posted nothing
    keys = [e["mollie_posting_key"] for e in deployment.frappe.journal_entries.values()]
    assert len(keys) == len(set(keys))


def test_the_demo_runs_several_sandbox_organizations(tmp_path) -> None:
    env = clean_env()
    folder = tmp_path / "demo"
    args = ("--organizations", "2", "--payments", "150", "--days", "30", "--folder", str(folder))
    result = run_cli(env, "demo", *args, timeout=900, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "2 organization(s): 2 succeeded" in result.stdout
    for name in ("groene-vork", "blauwe-reiger"):
        assert f"== organization {name}" in result.stdout
        assert (folder / "orgs" / name / "mollie_ledger.published.duckdb").exists()
    assert not (tmp_path / "data").exists()  # nothing outside the demo's folder


def test_single_organization_commands_need_and_use_an_organization(deployment, first_run) -> None:
    unnamed = run_cli(deployment.env, "extract", cwd=deployment.folder)
    assert unnamed.returncode == 2 and "choose one with --organization" in unnamed.stderr
    org = deployment.orgs.organizations[1]
    named = run_cli(
        deployment.env,
        "extract",
        "--organization",
        org.name,
        "--resources",
        "payments",
        cwd=deployment.folder,
    )
    assert named.returncode == 0, named.stderr[-2000:]
    assert f"Extracted into {org.folder / 'mollie_ledger.duckdb'}" in named.stdout
    answer = run_cli(
        deployment.env,
        "query",
        "--organization",
        org.name,
        "--format",
        "csv",
        "select count(*) as n from staging.stg_mollie__payments",
        cwd=deployment.folder,
    )
    assert answer.returncode == 0, answer.stderr[-2000:]
    assert answer.stdout.split() == ["n", str(len(deployment.server.worlds[org.token].payments))]
