"""Many organizations in one deployment: each is a Dagster partition with its own settings.

The list comes from `MOLLIE_LEDGER_ORGANIZATIONS` (extract.organizations), read once when the
definitions load. With no list there is one organization, `default`, and nothing is partitioned:
today's single-organization setup, unchanged. With a list, every asset is partitioned by
organization (`PARTITIONS`), so the UI shows, runs, retries and backfills each one on its own,
and a run serves exactly one organization: the one its `dagster/partition` tag names.

A run's organization decides the environment its steps read (`organization_env`): its own token
in MOLLIE_ACCESS_TOKEN (a token shared by the deployment is dropped, so no organization can
fall back to another's), and its own warehouse, publication, ledger configuration, exports,
report, Data Docs and bank folder. Every stage already reads those settings from an environment
mapping, so the stages know nothing of organizations: the separation is made here, once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import dagster as dg

from export.publish import ENV_PUBLISHED_DB
from export.settings import ENV_EXPORT_DIR
from extract.organizations import Organization, OrganizationsError, load_organizations
from extract.paths import ENV_BANK_DIR, ENV_DB
from extract.settings import DLT_SECRET_ACCESS_TOKEN, ENV_ACCESS_TOKEN
from quality.docs import ENV_DOCS
from reporting.metrics import ENV_METRICS_FILE
from reporting.report import ENV_REPORT_DIR
from transforms.config import ENV_CONFIG, ConfigError, LedgerConfig

PARTITION_TAG = "dagster/partition"  # Dagster's own tag on a partitioned run
ORGANIZATION_TAG = "mollie_ledger/organization"  # ours, on every run we request


# The organizations of this deployment (an unusable file raises OrganizationsError, with the fix).
ORGANIZATIONS: list[Organization] = load_organizations()
BY_NAME: dict[str, Organization] = {o.name: o for o in ORGANIZATIONS}
MANY = not (len(ORGANIZATIONS) == 1 and ORGANIZATIONS[0].is_default)

# None for the single default organization: its assets stay unpartitioned, as before.
PARTITIONS: dg.StaticPartitionsDefinition | None = (
    dg.StaticPartitionsDefinition([o.name for o in ORGANIZATIONS]) if MANY else None
)

# DuckDB has one writer per file. With one organization every warehouse step shares the pool
# "duckdb" (dagster.yaml: one slot), so two runs never write at once. With many, each run holds
# one organization's own file and dagster.yaml allows one run per partition at a time: the
# steps of different organizations may then run side by side, so they take no shared pool.
WAREHOUSE_POOL: str | None = None if MANY else "duckdb"


def organization(partition_key: str | None) -> Organization:
    """The organization a run or step serves: its partition, or the default one.

    Raises:
        OrganizationsError: a partitioned deployment asked without a partition, or a partition
            no longer in the list (removed since the run was requested).
    """
    if not MANY:
        return ORGANIZATIONS[0]
    if partition_key is None:
        raise OrganizationsError(
            "this deployment serves several organizations "
            f"({', '.join(BY_NAME)}): choose one (a partition) to run"
        )
    try:
        return BY_NAME[partition_key]
    except KeyError:
        raise OrganizationsError(
            f"no organization {partition_key!r} in the organizations file (known: "
            f"{', '.join(BY_NAME)})"
        ) from None


def run_organization(run: dg.DagsterRun | None) -> Organization:
    """The organization of a Dagster run, from its partition tag."""
    return organization(run.tags.get(PARTITION_TAG) if run is not None else None)


def organization_env(org: Organization, base: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The environment `org`'s pipeline reads: `base` with its own token and folders.

    For the default organization this is `base` itself (today's settings). For a configured one,
    a token or folder set for the deployment never leaks into it: every setting it owns is
    replaced, and the deployment's token is removed when its own variable is unset (preflight
    then names that variable).
    """
    env = dict(base)
    if org.is_default:
        return env
    assert org.folder is not None  # a configured organization has its folder and files
    env.pop(DLT_SECRET_ACCESS_TOKEN, None)
    env.pop(ENV_ACCESS_TOKEN, None)
    token = org.token(base)
    if token is not None:
        env[ENV_ACCESS_TOKEN] = token
    env.update(
        {
            ENV_DB: str(org.warehouse),
            ENV_PUBLISHED_DB: str(org.published),
            ENV_CONFIG: str(org.ledger_config),
            ENV_EXPORT_DIR: str(org.export_dir),
            ENV_REPORT_DIR: str(org.report_dir),
            ENV_BANK_DIR: str(org.bank_dir),
            ENV_DOCS: str(org.folder / "quality-docs"),
            ENV_METRICS_FILE: str(org.folder / "metrics" / "mollie_ledger.prom"),
        }
    )
    return env


def missing_token(org: Organization, env: Mapping[str, str] = os.environ) -> str | None:
    """What to set when a configured organization's token variable is empty, else None."""
    if org.token_env is None or org.token(env) is not None:
        return None
    return (
        f"organization {org.name}: no Mollie token in {org.token_env} (the organizations file "
        "names this variable; set it to the organization's access token)"
    )


def company_clash(org: Organization) -> str | None:
    """What is wrong when another organization posts to the same ERPNext company, else None.

    Two organizations in one company would mix their entries in one set of books (and one
    clearing account), which no reconciliation could untangle afterwards.
    """
    if not MANY:
        return None
    mine = _company(org)
    if mine is None:
        return None
    others = [o.name for o in ORGANIZATIONS if o.name != org.name and _company(o) == mine]
    if not others:
        return None
    return (
        f"organization {org.name} posts to ERPNext company {mine!r}, and so does "
        f"{', '.join(others)}: give each organization its own company ([books] company in its "
        "ledger_config), or their entries would mix in one set of books"
    )


def _company(org: Organization) -> str | None:
    try:
        return LedgerConfig.load(org.ledger_config).company
    except ConfigError:  # preflight names an unreadable file itself
        return None
