"""Run a suite against a table's frames with Great Expectations, and say plainly what failed.

`import great_expectations` takes ~15 s here, so nothing imports it at module level: the first
`get_runner()` of a process imports it and builds one ephemeral context (in-memory stores, a
pandas datasource with one whole-dataframe batch, the Data Docs site); every later validation
in that process reuses it. Each frame of a suite is one GX validation; their Data Docs pages are
rendered together afterwards. The answer is a plain `SuiteResult`: no GX objects leak out.

Severity comes from each expectation's `meta.severity`. An expectation GX could not evaluate
(a missing column, a type it cannot compare) counts as an error whatever its severity: the
table no longer has the shape the suite was written for.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from quality import docs, frames
from quality.pii_functions import mask_pii
from quality.suites import Suite, gx_suites
from transforms.seeds import SEEDS_DIR, read_seed

SAMPLE_ROWS = 5


def _type_map_column(column: str) -> list[str]:
    # The type map (transforms/seeds/) is the one list of known types and their categories; the
    # suites read it instead of keeping a second copy that would drift.
    header, rows = read_seed(SEEDS_DIR / "balance_transaction_types.csv")
    at = header.index(column)
    return sorted({row[at] for row in rows})


# Values for `{"$PARAMETER": ...}` in suite kwargs, fixed when a validation starts.
PARAMETERS = {
    # Latest plausible instant of any timestamp: Mollie's clock may run a little ahead of ours.
    "tomorrow": lambda now: (now + timedelta(days=1)).isoformat(),
    "mapped_balance_transaction_types": lambda now: _type_map_column("type"),
    "ledger_categories": lambda now: _type_map_column("category"),
}


@dataclass(frozen=True)
class Failure:
    """One expectation that did not hold, with what GX saw (PII-safe)."""

    suite: str
    frame: str
    type: str
    kwargs: dict[str, Any]
    severity: str
    why: str
    observed: Any = None  # observed_value (aggregate expectations)
    unexpected_count: int | None = None  # rows that broke it (map expectations)
    unexpected_values: list[Any] = field(default_factory=list)  # a few, masked
    sample: list[dict[str, Any]] = field(default_factory=list)  # offending rows, masked
    error: str | None = None  # GX could not evaluate it

    @property
    def target(self) -> str:
        k = self.kwargs
        cols = k.get("column") or k.get("column_list") or [k.get("column_A"), k.get("column_B")]
        cols = [cols] if isinstance(cols, str) else [c for c in cols if c]
        return f"{self.type}({', '.join(cols)})"

    def summary(self) -> str:
        if self.error:
            seen = f"could not be evaluated: {self.error}"
        elif self.unexpected_count is not None:
            shown = ", ".join(map(str, self.unexpected_values[:3]))
            seen = f"{self.unexpected_count} unexpected" + (f" ({shown})" if shown else "")
        else:
            seen = f"observed {self.observed}"
        return f"[{self.severity}] {self.frame}: {self.target}: {seen}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "frame": self.frame,
            "expectation": self.type,
            "kwargs": self.kwargs,
            "severity": self.severity,
            "why": self.why,
            "observed": self.observed,
            "unexpected_count": self.unexpected_count,
            "unexpected_values": self.unexpected_values,
            "error": self.error,
        }


@dataclass
class SuiteResult:
    suite: str
    table: str  # schema.table
    evaluated: int = 0
    failures: list[Failure] = field(default_factory=list)
    pages: dict[str, Path] = field(default_factory=dict)  # frame kind -> Data Docs page

    @property
    def success(self) -> bool:
        return not self.failures

    @property
    def counts(self) -> dict[str, int]:
        out = {"error": 0, "warning": 0}
        for f in self.failures:
            out[f.severity] += 1
        return out

    @property
    def severity(self) -> str | None:
        """'error' if any error-level expectation failed, 'warning' if only warnings, else None."""
        counts = self.counts
        return "error" if counts["error"] else "warning" if counts["warning"] else None

    @property
    def page(self) -> Path | None:
        """The Data Docs page to look at first: the first failing frame's, else the rows one."""
        for f in self.failures:
            if f.frame in self.pages:
                return self.pages[f.frame]
        return next(iter(self.pages.values()), None)


class Runner:
    """One ephemeral GX context for the process, writing Data Docs into `docs_dir`."""

    def __init__(self, docs_dir: Path) -> None:
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self._gx = gx
        self.docs_dir = docs_dir
        self._context = gx.get_context(mode="ephemeral")
        # tqdm bars on stderr for every validation drown the Dagster logs.
        self._context.variables.progress_bars = ProgressBarsConfig(globally=False)
        docs.add_site(self._context, docs_dir)
        asset = self._context.data_sources.add_pandas("warehouse").add_dataframe_asset("frame")
        self._batch = asset.add_batch_definition_whole_dataframe("whole")
        self._lock = threading.Lock()  # the context's stores are not thread-safe

    def validate(
        self, suite: Suite, frames_: Mapping[str, pd.DataFrame], run_name: str | None = None
    ) -> SuiteResult:
        """Validate each frame against the suite's expectations for it; never raises on data."""
        from great_expectations.core.run_identifier import RunIdentifier

        now = datetime.now(UTC)
        parameters = {name: make(now) for name, make in PARAMETERS.items()}
        result = SuiteResult(suite.name, f"{suite.schema}.{suite.table}")
        identifiers = {}
        with self._lock:
            for kind, gx_suite in gx_suites(suite).items():
                frame = frames_[kind]
                outcome = self._checkpoint(gx_suite).run(
                    batch_parameters={"dataframe": frame},
                    expectation_parameters=parameters,
                    run_id=RunIdentifier(run_name=run_name or "adhoc", run_time=now),
                )
                for identifier, validation in outcome.run_results.items():
                    identifiers[kind] = identifier
                    result.evaluated += len(validation.results)
                    for er in validation.results:
                        if not er.success:
                            result.failures.append(_failure(suite, kind, er, frame))
            pages = docs.build_pages(self._context, list(identifiers.values()))
        result.pages = {k: p for k, p in zip(identifiers, pages, strict=True) if p is not None}
        # Errors first, so the Dagster description and the first Data Docs link lead with them.
        result.failures.sort(key=lambda f: f.severity != "error")
        return result

    def _checkpoint(self, gx_suite: Any) -> Any:
        # A checkpoint rather than a bare ValidationDefinition.run: its result is keyed by the
        # stored result's identifier, which is what Data Docs render and link by.
        gx, ctx = self._gx, self._context
        stored = ctx.suites.add_or_update(gx_suite)
        definition = ctx.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=stored.name, data=self._batch, suite=stored)
        )
        return ctx.checkpoints.add_or_update(
            gx.Checkpoint(
                name=stored.name,
                validation_definitions=[definition],
                actions=[],  # Data Docs are built once per suite, after all its frames
                # SUMMARY carries the first row indices of unexpected values (for samples).
                result_format={"result_format": "SUMMARY", "partial_unexpected_count": 20},
            )
        )


def _failure(suite: Suite, kind: str, er: Any, frame: pd.DataFrame) -> Failure:
    config = er.expectation_config
    meta = config.meta or {}
    kwargs = {k: _plain(v) for k, v in config.kwargs.items() if k != "batch_id"}
    res = er.result or {}
    error = _exception_message(er.exception_info)
    return Failure(
        suite=suite.name,
        frame=kind,
        type=config.type,
        kwargs=kwargs,
        severity="error" if error else meta.get("severity", "error"),
        why=meta.get("why", ""),
        observed=_plain(res.get("observed_value")),
        unexpected_count=res.get("unexpected_count"),
        unexpected_values=[_plain(v) for v in (res.get("partial_unexpected_list") or [])[:5]],
        sample=_sample(suite, kind, kwargs, res.get("partial_unexpected_index_list"), frame),
        error=error,
    )


def _exception_message(info: Any) -> str | None:
    """GX nests exception info per metric; return the first message, if any raised."""
    if not isinstance(info, dict):
        return None
    if info.get("raised_exception"):
        return str(info.get("exception_message"))
    for value in info.values():
        if isinstance(value, dict) and value.get("raised_exception"):
            return str(value.get("exception_message"))
    return None


def _sample(
    suite: Suite, kind: str, kwargs: dict[str, Any], indices: Any, frame: pd.DataFrame
) -> list[dict[str, Any]]:
    """A few offending rows: the key and the columns the expectation looked at."""
    if not indices:
        return []
    if kind == "rows":
        looked_at = kwargs.get("column_list") or [
            kwargs.get(k) for k in ("column", "column_A", "column_B") if kwargs.get(k)
        ]
        columns = list(dict.fromkeys([*suite.key_columns, *looked_at]))
    elif kind == "columns":  # the scan's rows name the column; only masked card numbers
        columns = ["table_name", "column_name", "layer", kwargs.get("column", "")]
        if kwargs.get("column") == "card_number_values":
            columns.append("card_number_example")
    else:
        columns = list(frame.columns)
    columns = [c for c in columns if c in frame.columns]
    # Row labels of the pandas frame (GX may give dicts for other engines: skip those).
    labels = [i for i in indices[:SAMPLE_ROWS] if not isinstance(i, dict) and i in frame.index]
    rows = frame.loc[labels, columns]
    return [{c: _plain(v) for c, v in row.items()} for _, row in rows.iterrows()]


def _plain(value: Any) -> Any:
    """JSON-safe and PII-safe: NaN/NA as None, text with card numbers, e-mails, IBANs masked."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, np.generic):  # numpy scalars from pandas
        value = value.item()
    if value is None or pd.isna(value):  # None, NaN, NA, NaT
        return None
    if isinstance(value, bool | int | float):
        return value
    return mask_pii(str(value))


_runners: dict[Path, Runner] = {}
_runners_lock = threading.Lock()


def get_runner(docs_dir: str | os.PathLike[str] | None = None) -> Runner:
    """The process's runner for this Data Docs folder (GX imported on first use only)."""
    folder = docs.docs_folder(docs_dir)
    with _runners_lock:
        if folder not in _runners:
            _runners[folder] = Runner(folder)
        return _runners[folder]


def check_table(
    con: duckdb.DuckDBPyConnection,
    suite: Suite,
    run_name: str | None = None,
    docs_dir: str | os.PathLike[str] | None = None,
) -> SuiteResult:
    """Build the suite's frames from the warehouse and validate them."""
    built = frames.build(con, suite.schema, suite.table, suite.frames)
    return get_runner(docs_dir).validate(suite, built, run_name)
