"""The DuckDB warehouse as a Dagster resource: one organization's file, prepared connections.

Every asset that reads or writes the warehouse gets its connection here, so they all agree on
the file (`MOLLIE_LEDGER_DB`), the ledger configuration and the PII key. With several
organizations (orchestration.organizations) a step first asks for its run's organization
(`warehouse.of(context)`): the file, the configuration and every other setting are then that
organization's own.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb

from export import preflight
from extract.endpoint import NO_TOKEN, has_token
from extract.organizations import Organization, OrganizationsError
from extract.paths import ENV_DB, warehouse_path
from extract.pipeline import DATASET
from orchestration.organizations import (
    company_clash,
    missing_token,
    organization,
    organization_env,
    run_organization,
)
from transforms.build import prepare
from transforms.config import ENV_CONFIG, LedgerConfig


class WarehouseUnavailable(RuntimeError):
    """The warehouse cannot be read right now (no file yet, or a run holds its write lock)."""


@dataclass(frozen=True)
class OrganizationWarehouse:
    """One organization's warehouse and the settings its steps read (`env`)."""

    organization: Organization
    env: Mapping[str, str]

    @property
    def name(self) -> str:
        return self.organization.name

    @property
    def path(self) -> Path:
        return warehouse_path(self.env.get(ENV_DB) or None)

    @property
    def config_path(self) -> str | None:
        return self.env.get(ENV_CONFIG) or None

    def ledger_config(self) -> LedgerConfig:
        return LedgerConfig.load(self.config_path, env=dict(self.env))

    @contextmanager
    def connect(self, *, prepared: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection; `prepared` adds the UDFs and config tables models need."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(self.path))
        try:
            if prepared:
                config = self.ledger_config()
                prepare(con, config, config.require_pii_key(using_sandbox=not has_token(self.env)))
            yield con
        finally:
            con.close()

    @contextmanager
    def read_only(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection for sensors: it never creates the file or takes the writer's
        lock, and says WarehouseUnavailable (instead of crashing the tick) when there is no file
        yet or a running job holds the file: the next tick simply tries again."""
        if not self.path.exists():
            raise WarehouseUnavailable(f"no warehouse at {self.path} yet: run the pipeline first")
        try:
            con = duckdb.connect(str(self.path), read_only=True)
        except (duckdb.IOException, duckdb.ConnectionException) as exc:
            # IOException: another process writes (DuckDB locks the whole file);
            # ConnectionException: this process has it open read-write (in-process runs).
            raise WarehouseUnavailable(f"the warehouse {self.path} is busy: {exc}") from None
        try:
            # A missing table is an error, not a lookup of a Python variable of that name.
            con.execute("set python_enable_replacements = false")
            yield con
        finally:
            con.close()

    def check_settings(self, stages: list[str]) -> None:
        """Refuse, all at once, every setting of this organization the stages cannot use."""
        own = missing_token(self.organization) if preflight.EXTRACT in stages else None
        problems = [own] if own else []
        clash = company_clash(self.organization) if preflight.EXPORT in stages else None
        problems += [clash] if clash else []
        try:
            preflight.check(stages, env=self.env)
        except preflight.SettingsError as exc:
            # Its own token variable says more than "set MOLLIE_ACCESS_TOKEN".
            problems += [p for p in exc.problems if not (own and p == NO_TOKEN)]
        if problems:
            raise preflight.SettingsError(problems)


class Warehouse(dg.ConfigurableResource):
    """The DuckDB file plus the ledger configuration (accounts, tolerances, PII key).

    `database` and `config_path` override the default organization's file and configuration
    (tests use them); configured organizations always use their own.
    """

    database: str = ""  # empty: MOLLIE_LEDGER_DB, else data/mollie_ledger.duckdb
    config_path: str = ""  # empty: MOLLIE_LEDGER_CONFIG, else config/ledger.toml

    def for_organization(self, org: Organization) -> OrganizationWarehouse:
        env = organization_env(org)
        if org.is_default:
            if self.database:
                env[ENV_DB] = self.database
            if self.config_path:
                env[ENV_CONFIG] = self.config_path
        return OrganizationWarehouse(org, env)

    def of(
        self, context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext
    ) -> OrganizationWarehouse:
        """The warehouse of the organization this step's run serves."""
        try:
            return self.for_organization(run_organization(context.run))
        except OrganizationsError as exc:
            raise dg.Failure(description=str(exc), allow_retries=False) from None

    def named(self, name: str | None) -> OrganizationWarehouse:
        """The warehouse of the organization `name` (None: the only one)."""
        return self.for_organization(organization(name))

    @property
    def default(self) -> OrganizationWarehouse:
        """The only organization's warehouse (sensors and tests of a one-organization setup)."""
        return self.named(None)

    @property
    def path(self) -> str:
        return str(self.default.path)

    def connect(
        self, *, prepared: bool = True
    ) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        return self.default.connect(prepared=prepared)

    def read_only(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        return self.default.read_only()

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """At the start of a run (before its first step), refuse every unusable setting the run
        needs at once, not one step at a time after the extract. Sensors use this resource too:
        they only read, so they are not refused."""
        run = context.dagster_run
        if run is None:
            return
        stages = [preflight.TRANSFORM, preflight.EXPORT]
        selection = run.asset_selection  # None: the whole job, the extract included
        if selection is None or any(key.path[0] == DATASET for key in selection):
            stages.append(preflight.EXTRACT)  # only a run that reads Mollie needs a token
        try:
            self.for_organization(run_organization(run)).check_settings(stages)
        except (preflight.SettingsError, OrganizationsError) as exc:
            raise dg.Failure(description=str(exc), allow_retries=False) from None
