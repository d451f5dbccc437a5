"""The DuckDB destination, loading Parquet and JSON-lines files with the tables' own column types.

dlt's default file format for DuckDB is `insert_values`: one `INSERT … VALUES` statement per
file. DuckDB binds every literal of such a statement as a constant expression, about 15 µs each,
so a load of a few hundred thousand rows spent most of the extract in the binder (~2,000 rows/s,
see docs/benchmarks.md).

The raw tables arrive as Parquet (the resources yield Arrow tables, extract.arrow_rows), typed
by the table contract, and load through `read_parquet`. What dlt still writes as JSON lines (its
own state and version tables) loads through `read_json`, but dlt's own jsonl job lets
`read_json` guess the types: a JSON column whose objects have different keys becomes one STRUCT
with every key, so each stored value gains `"key": null` entries it never had. This job passes
`read_json` the table's column types instead, so JSON is read verbatim, money straight into
DECIMAL and instants into TIMESTAMPTZ; a key missing from a line (dlt leaves out nulls) is NULL.
"""

from __future__ import annotations

from typing import Any

import dlt
from dlt.common.destination import DestinationCapabilitiesContext
from dlt.common.destination.client import (
    HasFollowupJobs,
    LoadJob,
    PreparedTableSchema,
    RunnableLoadJob,
)
from dlt.common.storages.load_storage import ParsedLoadJobFileName
from dlt.destinations.impl.duckdb.duck import DuckDbClient

from extract.erasure import scrub_loaded

FILE_FORMAT = "jsonl"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class TypedCopyJob(RunnableLoadJob, HasFollowupJobs):
    """Insert one JSON-lines or Parquet file into its table by column name.

    JSON lines are read with the table's column types; Parquet carries its own (the Arrow types
    of extract.arrow_rows). Either way, erased customers are blanked in what was just loaded.
    """

    def __init__(self, file_path: str, column_types: dict[str, str] | None = None) -> None:
        super().__init__(file_path)
        self._column_types = column_types
        self._job_client: TypedJsonlDuckDbClient = None  # type: ignore[assignment]  # set by run

    def _reader(self) -> str:
        path = _literal(self._file_path)
        if self._column_types is None:
            return f"read_parquet({path})"
        columns = ", ".join(f"{_literal(n)}: {_literal(t)}" for n, t in self._column_types.items())
        return f"read_json({path}, format = 'newline_delimited', columns = {{{columns}}})"

    def run(self) -> None:
        sql_client = self._job_client.sql_client
        table = sql_client.make_qualified_table_name(self.load_table_name)
        sql_client.execute_sql(f"INSERT INTO {table} BY NAME SELECT * FROM {self._reader()}")
        # Customers erased on request stay erased whatever this load brought (extract.erasure).
        scrub_loaded(sql_client.execute_sql, self.load_table_name, table)


class TypedJsonlDuckDbClient(DuckDbClient):
    """dlt's DuckDB client; jsonl and parquet files get `TypedCopyJob`."""

    def create_load_job(
        self, table: PreparedTableSchema, file_path: str, load_id: str, restore: bool = False
    ) -> LoadJob:
        file_format = ParsedLoadJobFileName.parse(file_path).file_format
        if file_format == "parquet":
            return TypedCopyJob(file_path)
        if file_format != FILE_FORMAT:
            return super().create_load_job(table, file_path, load_id, restore)
        types = {
            name: self.type_mapper.to_destination_type(column, table)
            for name, column in table["columns"].items()
            if column.get("data_type")  # a hint-only column has no data (and no type) yet
        }
        return TypedCopyJob(file_path, types)


class TypedJsonlDuckDb(dlt.destinations.duckdb):
    """`dlt.destinations.duckdb` writing and loading JSON lines (see the module docstring)."""

    def __init__(self, credentials: Any = None, **kwargs: Any) -> None:
        # The name keeps dlt's config sections and state where plain `duckdb` keeps them.
        kwargs.setdefault("destination_name", "duckdb")
        super().__init__(credentials=credentials, **kwargs)

    def _raw_capabilities(self) -> DestinationCapabilitiesContext:
        caps = super()._raw_capabilities()
        caps.preferred_loader_file_format = FILE_FORMAT
        return caps

    @property
    def client_class(self) -> type[DuckDbClient]:
        return TypedJsonlDuckDbClient
