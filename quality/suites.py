"""Expectation suites: the `expectations` of each model's contract, loaded and checked loudly.

One contract per staging and mart table, beside its SQL file
(transforms/<layer>/<table>.contract.json, found through quality.contracts), the suite in GX 1.x
form::

    {"name": "<table>", "meta": {"include": ["privacy"]},
     "expectations": [{"type": "expect_…", "kwargs": {…},
                       "meta": {"severity": "error" | "warning", "why": "…", "frame": "rows"}}]}

`meta.frame` says which frame of the table the expectation runs on (quality.frames: `rows` by
default, `columns` for the privacy scan, `layers` for integrity between layers); `include` pulls in
shared suites from quality/expectations/shared/ (the privacy scan every table gets). The same file
declares the table's foreign keys and derived flags, which quality.foreign_keys reads.

GX logs and silently drops an expectation it cannot build (an unknown type), and raises a bare
pydantic error for bad kwargs, naming neither the file nor the entry. `load_suite` builds every
entry on its own, raises `SuiteError` naming the file, the entry and GX's reason, and then checks
that GX kept exactly as many expectations as the file has. `read_suite` does only the cheap JSON
part (no GX import): Dagster definitions use it to name their checks.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quality.contracts import SHARED_DIR, ContractError, contract_paths, read_json, table_of
from quality.frames import FRAME_KINDS
from transforms.models import ROOT, discover

SEVERITIES = ("error", "warning")

# A suite file is unusable; the message names the file and the entry.
SuiteError = ContractError


@dataclass(frozen=True)
class Expectation:
    """One entry of a suite file, as written (the dict goes to GX unchanged)."""

    source: Path
    index: int  # position in its file, for messages
    entry: dict[str, Any]

    @property
    def type(self) -> str:
        return self.entry["type"]

    @property
    def kwargs(self) -> dict[str, Any]:
        return self.entry.get("kwargs", {})

    @property
    def severity(self) -> str:
        return self.entry["meta"]["severity"]

    @property
    def frame(self) -> str:
        return self.entry["meta"].get("frame", "rows")

    def where(self) -> str:
        return f"{self.source.name} expectation #{self.index} ({self.type})"


@dataclass(frozen=True)
class Suite:
    name: str  # the table's name
    schema: str
    path: Path
    expectations: tuple[Expectation, ...]  # its own, then those of its includes
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def table(self) -> str:
        return self.name

    @property
    def key(self) -> tuple[str, str]:
        return self.schema, self.name

    @property
    def frames(self) -> tuple[str, ...]:
        """The frame kinds its expectations need, in FRAME_KINDS order."""
        used = {e.frame for e in self.expectations}
        return tuple(k for k in FRAME_KINDS if k in used)

    def for_frame(self, kind: str) -> tuple[Expectation, ...]:
        return tuple(e for e in self.expectations if e.frame == kind)

    @property
    def key_columns(self) -> tuple[str, ...]:
        """The table's key: the columns of its first uniqueness expectation (for samples)."""
        for e in self.for_frame("rows"):
            if e.type == "expect_column_values_to_be_unique":
                return (e.kwargs["column"],)
            if e.type == "expect_compound_columns_to_be_unique":
                return tuple(e.kwargs["column_list"])
        return ()


def _entries(path: Path, data: dict[str, Any]) -> Iterator[Expectation]:
    for index, entry in enumerate(data["expectations"]):
        where = f"{path.name} expectation #{index}"
        if not isinstance(entry, dict) or not isinstance(entry.get("type"), str):
            raise SuiteError(f"{where}: needs a 'type' (GX 1.x; not 'expectation_type')")
        meta = entry.get("meta")
        if not isinstance(meta, dict):
            raise SuiteError(f"{where} ({entry['type']}): needs 'meta' with severity and why")
        if meta.get("severity") not in SEVERITIES:
            raise SuiteError(
                f"{where} ({entry['type']}): meta.severity must be one of {SEVERITIES}, "
                f"got {meta.get('severity')!r}"
            )
        if not str(meta.get("why", "")).strip():
            raise SuiteError(f"{where} ({entry['type']}): meta.why must say why it matters")
        if meta.get("frame", "rows") not in FRAME_KINDS:
            raise SuiteError(
                f"{where} ({entry['type']}): meta.frame must be one of {FRAME_KINDS}, "
                f"got {meta.get('frame')!r}"
            )
        yield Expectation(path, index, entry)


def read_suite(path: Path, schema: str | None = None) -> Suite:
    """The suite in `path` and its includes, checked for shape only (no GX)."""
    data = read_json(path)
    expectations = list(_entries(path, data))
    meta = data.get("meta") or {}
    for include in meta.get("include", []):
        shared = SHARED_DIR / f"{include}.json"
        expectations += _entries(shared, read_json(shared))
    table = table_of(path)
    if schema is None:
        schema = _schema_of(path, table)
    return Suite(table, schema, path, tuple(expectations), meta)


def _schema_of(path: Path, table: str) -> str:
    schemas = {m.name: m.schema for m in discover()}
    if table not in schemas:
        raise SuiteError(f"{path.name}: no model transforms/*/{table}.sql to check")
    return schemas[table]


def gx_suites(suite: Suite) -> dict[str, Any]:
    """One GX ExpectationSuite per frame kind, each verified to keep every expectation."""
    import great_expectations as gx  # lazily: ~15 s; cached by Python after the first import
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    built = {}
    for kind in suite.frames:
        entries = suite.for_frame(kind)
        for e in entries:  # one at a time, so the error names the entry
            try:
                ExpectationConfiguration(**e.entry).to_domain_obj()
            except Exception as exc:  # GX raises several unrelated types here
                raise SuiteError(f"{e.where()}: GX cannot build it: {exc}") from exc
        gx_suite = gx.ExpectationSuite(
            name=_gx_name(suite, kind), expectations=[e.entry for e in entries]
        )
        if len(gx_suite.expectations) != len(entries):
            raise SuiteError(
                f"{suite.path.name}: GX kept {len(gx_suite.expectations)} of "
                f"{len(entries)} '{kind}' expectations"
            )
        built[kind] = gx_suite
    return built


def _gx_name(suite: Suite, kind: str) -> str:
    return suite.name if kind == "rows" else f"{suite.name}.{kind}"


def load_suite(path: Path, schema: str | None = None) -> Suite:
    """Read a suite and prove GX accepts every expectation in it; raises SuiteError."""
    suite = read_suite(path, schema)
    gx_suites(suite)
    return suite


def suite_paths(root: Path = ROOT) -> tuple[Path, ...]:
    """Every table's contract file, in table order (shared suites are not listed)."""
    return contract_paths(root)


def read_all(root: Path = ROOT) -> list[Suite]:
    """Every table suite, shape-checked, in table order (cheap: for Dagster definitions)."""
    return [read_suite(p) for p in suite_paths(root)]
