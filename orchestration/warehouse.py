"""The DuckDB warehouse as a Dagster resource: one file, prepared connections.

Every asset that reads or writes the warehouse gets its connection here, so they all agree on
the file (`MOLLIE_LEDGER_DB`), the ledger configuration and the PII key.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import duckdb

from export import preflight
from extract.endpoint import has_token
from extract.paths import warehouse_path
from extract.pipeline import DATASET
from transforms.build import prepare
from transforms.config import ENV_CONFIG, LedgerConfig


class WarehouseUnavailable(RuntimeError):
    """The warehouse cannot be read right now (no file yet, or a run holds its write lock)."""


class Warehouse(dg.ConfigurableResource):
    """The DuckDB file plus the ledger configuration (accounts, tolerances, PII key)."""

    database: str = ""  # empty: MOLLIE_LEDGER_DB, else data/mollie_ledger.duckdb
    config_path: str = ""  # empty: MOLLIE_LEDGER_CONFIG, else config/ledger.toml

    @property
    def path(self) -> str:
        return str(warehouse_path(self.database or None))

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
        env = dict(os.environ)
        if self.config_path:
            env[ENV_CONFIG] = self.config_path
        try:
            preflight.check(stages, db_path=self.database or None, env=env)
        except preflight.SettingsError as exc:
            raise dg.Failure(description=str(exc), allow_retries=False) from None

    def ledger_config(self) -> LedgerConfig:
        return LedgerConfig.load(self.config_path or None)

    @contextmanager
    def connect(self, *, prepared: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection; `prepared` adds the UDFs and config tables models need."""
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        con = duckdb.connect(self.path)
        try:
            if prepared:
                config = self.ledger_config()
                prepare(con, config, config.require_pii_key(using_sandbox=not has_token()))
            yield con
        finally:
            con.close()

    @contextmanager
    def read_only(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection for sensors: it never creates the file or takes the writer's
        lock, and says WarehouseUnavailable (instead of crashing the tick) when there is no file
        yet or a running job holds the file: the next tick simply tries again."""
        if not os.path.exists(self.path):
            raise WarehouseUnavailable(f"no warehouse at {self.path} yet: run the pipeline first")
        try:
            con = duckdb.connect(self.path, read_only=True)
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
