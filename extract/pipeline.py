"""Run the Mollie source into the DuckDB warehouse: the one place the dlt pipeline is built.

The CLI (`mollie-ledger extract`), the Dagster assets and the tests all build their pipeline here,
so they share one pipeline name, dataset (`mollie`) and working folder beside the DuckDB file.

DuckDB's memory during the load is capped at `MOLLIE_LEDGER_DUCKDB_MEMORY_LIMIT` (default
`512MB`; any DuckDB memory size, e.g. `2GB`, `1GiB`, `50%`). Left at DuckDB's default (80 % of the
machine's RAM) the buffer pool kept every table page the load's `read_json` inserts and dlt's
merge statements touched, so the extract's peak RSS grew with the data (3.4 GiB at 1 M
payments); capped, DuckDB spills to `<warehouse file>.tmp/` beside it instead.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import dlt
import duckdb
from dlt.common.pipeline import LoadInfo
from dlt.destinations.exceptions import DatabaseUndefinedRelation
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

from extract.client import MollieClient
from extract.duckdb_load import TypedJsonlDuckDb
from extract.errors import MollieError
from extract.paths import warehouse_path
from extract.settings import ClientSettings
from extract.source import ALL_RESOURCES, Progress, mollie_source
from extract.warehouse_lock import exclusive_warehouse

PIPELINE_NAME = "mollie_ledger"
DATASET = "mollie"
ENV_DUCKDB_MEMORY_LIMIT = "MOLLIE_LEDGER_DUCKDB_MEMORY_LIMIT"
# Beside the extract's own 0.3-0.45 GiB of Python, toward the 1 GiB peak targeted for a 1 M-row
# load; at 100 k payments DuckDB stays below it anyway, so the cap costs small loads nothing.
DEFAULT_DUCKDB_MEMORY_LIMIT = "512MB"


def duckdb_memory_limit() -> str:
    """DuckDB's `memory_limit` for the load: `MOLLIE_LEDGER_DUCKDB_MEMORY_LIMIT`, else 512MB.

    Raises:
        ValueError: DuckDB does not read the value as a memory size; checked here, not at the
            first connection halfway into a run.
    """
    limit = os.environ.get(ENV_DUCKDB_MEMORY_LIMIT, "").strip() or DEFAULT_DUCKDB_MEMORY_LIMIT
    with duckdb.connect(":memory:") as probe:
        try:
            probe.execute("SET memory_limit = ?", [limit])
        except duckdb.Error as exc:
            raise ValueError(f"{ENV_DUCKDB_MEMORY_LIMIT}={limit!r}: {exc}") from exc
    return limit


# dlt settings the pipeline depends on, as dlt's environment variables (`os.environ` is the
# first place dlt looks). Set here, not in a `.dlt/config.toml`, which dlt reads only from the
# working directory: a run started anywhere else (cron, an installed package, a test's folder)
# would silently lose them. An operator's own value of a variable still wins.
DLT_SETTINGS = {
    # The resources yield Arrow tables (extract.arrow_rows); dlt adds its own columns to them,
    # as it does to rows: staging orders versions of a row by `_dlt_load_id`, and the quality
    # gates compare raw with staging by the latest version.
    "NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_LOAD_ID": "true",
    "NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_ID": "true",
    # The extract and normalize files live for seconds on local disk: gzip was ~10 % of the
    # pipeline's CPU and bought nothing (make bench).
    "DATA_WRITER__DISABLE_COMPRESSION": "true",
    # Loaded files would pile up under .dlt/pipelines (with customers' personal data in them);
    # the load info and the state are kept, only a loaded package's data files are deleted.
    "LOAD__DELETE_COMPLETED_JOBS": "true",
}


def apply_dlt_settings() -> None:
    """Give dlt the settings above, unless the environment already sets one."""
    for name, value in DLT_SETTINGS.items():
        os.environ.setdefault(name, value)


def make_pipeline(db_path: str | os.PathLike[str] | None = None) -> dlt.Pipeline:
    """The dlt pipeline writing dataset `mollie` into the warehouse file.

    Its working folder sits beside the DuckDB file (`.dlt/`), so one warehouse has one state;
    dlt also keeps the state inside the warehouse and restores it if that folder is lost. Rows
    reach DuckDB as JSON lines read with the tables' types (extract.duckdb_load), not dlt's
    default INSERT statements, which DuckDB binds ten times slower than the API serves them.
    Every connection the pipeline opens has DuckDB's memory capped (`duckdb_memory_limit`).
    """
    apply_dlt_settings()
    db = warehouse_path(db_path)
    db.parent.mkdir(parents=True, exist_ok=True)
    return dlt.pipeline(
        pipeline_name=PIPELINE_NAME,
        destination=TypedJsonlDuckDb(
            credentials=DuckDbCredentials(
                str(db), global_config={"memory_limit": duckdb_memory_limit()}
            )
        ),
        dataset_name=DATASET,
        pipelines_dir=str(db.parent / ".dlt" / "pipelines"),
        progress="log" if os.environ.get("MOLLIE_LEDGER_PROGRESS") == "log" else None,
    )


def describing_pipeline() -> dlt.Pipeline:
    """A pipeline that only describes the load (its dataset and destination), for the Dagster
    asset specs: it never connects, and its working folder is a temporary one, so loading the
    definitions writes nothing where they are loaded (with several organizations no warehouse
    is the default one)."""
    return dlt.pipeline(
        pipeline_name=PIPELINE_NAME,
        destination=TypedJsonlDuckDb(),
        dataset_name=DATASET,
        pipelines_dir=os.path.join(tempfile.gettempdir(), "mollie-ledger-dlt-specs"),
    )


@dataclass
class ExtractResult:
    """What one extract run did.

    Attributes:
        load_info: dlt's account of the load (packages, jobs).
        rows: rows written per selected table this run (0 for a table with nothing new).
        pages: pages read per table.
        quarantined: records sent to `mollie.quarantine` per table this run.
    """

    load_info: LoadInfo
    rows: dict[str, int] = field(default_factory=dict)
    pages: dict[str, int] = field(default_factory=dict)
    quarantined: dict[str, int] = field(default_factory=dict)

    @property
    def quarantined_total(self) -> int:
        return sum(self.quarantined.values())


def check_resources(names: list[str] | None) -> list[str]:
    """The tables to extract: `names`, validated, or all raw tables when None or empty.

    Raises:
        ValueError: an unknown name, listing the valid ones.
    """
    if not names:
        return list(ALL_RESOURCES)
    unknown = sorted(set(names) - set(ALL_RESOURCES))
    if unknown:
        raise ValueError(
            f"unknown resource(s) {', '.join(unknown)}; choose from {', '.join(ALL_RESOURCES)}"
        )
    return list(dict.fromkeys(names))


def row_counts(pipeline: dlt.Pipeline, tables: Iterable[str]) -> dict[str, int]:
    """Rows now in each table of the dataset (0 for a table no load has created yet)."""
    counts: dict[str, int] = {}
    with pipeline.sql_client() as client:
        for table in tables:
            name = client.make_qualified_table_name(table)
            try:
                with client.execute_query(f"SELECT count(*) FROM {name}") as cursor:
                    counts[table] = cursor.fetchone()[0]
            except DatabaseUndefinedRelation:
                counts[table] = 0
    return counts


def mollie_error(exc: BaseException) -> MollieError | None:
    """The typed Mollie error behind a failure, if there is one.

    dlt wraps an exception raised inside a resource (in `ResourceExtractionError`, then
    `PipelineStepFailed`); the CLI and the assets want the `MollieError` with its message.
    """
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, MollieError):
            return current
        todo.extend((getattr(current, "exception", None), current.__cause__, current.__context__))
    return None


def run_extract(
    db_path: str | os.PathLike[str] | None = None,
    *,
    resources: list[str] | None = None,
    full_refresh: bool = False,
    settings: ClientSettings | None = None,
    lookback_days: int | None = None,
    sweep_hours: float | None = None,
    clock: Callable[[], datetime] | None = None,
    client_factory: Callable[[ClientSettings], MollieClient] | None = None,
) -> ExtractResult:
    """Extract Mollie into the warehouse once.

    Args:
        db_path: the DuckDB file (default: `warehouse_path()`).
        resources: only these tables (names of raw tables); all when None.
        full_refresh: forget the incremental state and reload. Everything: the dataset is
            dropped and reloaded. With `resources`: those tables are read again from the start
            and merged; other tables, and the quarantine all tables share, are left alone.
        settings: how to reach Mollie (default: from the environment).
        lookback_days: override the look-back window for mutable objects.
        sweep_hours: override how old the last look-back sweep may be before a run sweeps
            again though no money moved (0: sweep now; see extract.source).
        clock: the wall clock the sweep's age is measured with (tests move it).
        client_factory: builds the HTTP client (tests wrap the transport).

    Raises:
        ValueError: an unknown resource name.
        PipelineStepFailed: the load failed; `mollie_error(exc)` gives the typed Mollie error
            (auth, permission, rate limit, …) when that was the cause.
        WarehouseError: the warehouse cannot be written, or another process is using it
            (`WarehouseBusy`).
    """
    selected = check_resources(resources)
    progress = Progress()
    kwargs: dict[str, Any] = {"settings": settings, "progress": progress}
    if lookback_days is not None:
        kwargs["lookback_days"] = lookback_days
    if sweep_hours is not None:
        kwargs["sweep_hours"] = sweep_hours
    if clock is not None:
        kwargs["clock"] = clock
    if client_factory is not None:
        kwargs["client_factory"] = client_factory
    # dlt's own refresh of a few resources would drop `quarantine` with whichever resource
    # created it, losing other tables' quarantined records; so a partial refresh re-reads.
    source = mollie_source(**kwargs, reread=full_refresh and bool(resources))
    if resources:
        source = source.with_resources(*selected)
    refresh = "drop_sources" if full_refresh and not resources else None
    # One writer at a time: a second extract (or a run) would share dlt's working folder.
    with exclusive_warehouse(warehouse_path(db_path)):
        pipeline = make_pipeline(db_path)
        info = pipeline.run(source, refresh=refresh)
    normalized = pipeline.last_trace.last_normalize_info if pipeline.last_trace else None
    written = normalized.row_counts if normalized else {}
    return ExtractResult(
        info,
        rows={table: written.get(table, 0) for table in selected},
        pages=dict(progress.pages),
        quarantined=dict(progress.quarantined),
    )
