"""Run the Mollie source into the DuckDB warehouse: the one place the dlt pipeline is built.

The CLI (`mollie-ledger extract`), the Dagster assets and the tests all build their pipeline here,
so they share one pipeline name, dataset (`mollie`) and working folder beside the DuckDB file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import dlt
from dlt.common.pipeline import LoadInfo

from extract.settings import ClientSettings
from extract.source import ALL_RESOURCES, Progress, mollie_source

ENV_DB = "MOLLIE_LEDGER_DB"
DEFAULT_DB = "data/mollie_ledger.duckdb"
PIPELINE_NAME = "mollie_ledger"
DATASET = "mollie"


def warehouse_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The DuckDB file: the argument, else `MOLLIE_LEDGER_DB`, else data/mollie_ledger.duckdb."""
    return Path(path or os.environ.get(ENV_DB) or DEFAULT_DB)


def make_pipeline(db_path: str | os.PathLike[str] | None = None) -> dlt.Pipeline:
    """The dlt pipeline writing dataset `mollie` into the warehouse file.

    Its working folder sits beside the DuckDB file (`.dlt/`), so one warehouse has one state;
    dlt also keeps the state inside the warehouse and restores it if that folder is lost.
    """
    db = warehouse_path(db_path)
    db.parent.mkdir(parents=True, exist_ok=True)
    return dlt.pipeline(
        pipeline_name=PIPELINE_NAME,
        destination=dlt.destinations.duckdb(credentials=str(db)),
        dataset_name=DATASET,
        pipelines_dir=str(db.parent / ".dlt" / "pipelines"),
        progress="log" if os.environ.get("MOLLIE_LEDGER_PROGRESS") == "log" else None,
    )


@dataclass
class ExtractResult:
    load_info: LoadInfo
    rows: dict[str, int] = field(default_factory=dict)  # rows extracted per table this run
    pages: dict[str, int] = field(default_factory=dict)
    quarantined: dict[str, int] = field(default_factory=dict)


def run_extract(
    db_path: str | os.PathLike[str] | None = None,
    *,
    resources: list[str] | None = None,
    full_refresh: bool = False,
    settings: ClientSettings | None = None,
    lookback_days: int | None = None,
) -> ExtractResult:
    """Extract Mollie into the warehouse once.

    Args:
        db_path: the DuckDB file (default: `warehouse_path()`).
        resources: only these tables (names of DESIGN §3); all when None.
        full_refresh: forget incremental state and reload everything.
        settings: how to reach Mollie (default: from the environment).
        lookback_days: override the look-back window for mutable objects.

    Raises:
        ValueError: an unknown resource name.
        MollieError (inside dlt's PipelineStepFailed): the API refused or kept failing.
    """
    progress = Progress()
    kwargs = {"settings": settings, "progress": progress}
    if lookback_days is not None:
        kwargs["lookback_days"] = lookback_days
    source = mollie_source(**kwargs)
    if resources:
        unknown = sorted(set(resources) - set(ALL_RESOURCES))
        if unknown:
            raise ValueError(
                f"unknown resource(s) {', '.join(unknown)}; choose from {', '.join(ALL_RESOURCES)}"
            )
        source = source.with_resources(*resources)
    pipeline = make_pipeline(db_path)
    info = pipeline.run(source, refresh="drop_sources" if full_refresh else None)
    return ExtractResult(
        info, dict(progress.rows), dict(progress.pages), dict(progress.quarantined)
    )
