"""Model contracts: `<table>.contract.json` beside each staging and mart model's SQL file.

A model's contract lives next to the SELECT it describes (transforms/<layer>/<table>.sql): the
grain in the SQL file's header, and in the JSON file the table's expectation suite (read by
quality.suites), its foreign keys and its derived flags (read by quality.foreign_keys)::

    {"name": "<table>", "meta": {"include": ["privacy"]},
     "foreign_keys": [{"column": "…", "parent": "schema.table", "parent_column": "…"}],
     "derived_flags": [{"column": "…", "sql": "… over the table aliased t", "why": "…"}],
     "expectations": [ … ]}

This module only finds and reads the files (no GX, no DuckDB); shared suites that belong to no
model (the privacy scan) stay in quality/expectations/shared/.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from transforms.models import ROOT, discover

SUFFIX = ".contract.json"
SHARED_DIR = Path(__file__).parent / "expectations" / "shared"


class ContractError(ValueError):
    """A contract or suite file is unusable; the message names the file and the entry."""


def table_of(path: Path) -> str:
    """The table a file describes: its name without `.contract.json` (or `.json`)."""
    name = path.name
    for suffix in (SUFFIX, ".json"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def contract_path(sql_path: Path) -> Path:
    """Where the contract of the model in `sql_path` lives: beside it."""
    return sql_path.with_name(sql_path.stem + SUFFIX)


def shown(path: Path) -> str:
    """A contract's path as the repository names it (transforms/<layer>/<file>), for messages."""
    return f"{path.parent.parent.name}/{path.parent.name}/{path.name}"


@cache
def contract_paths(root: Path = ROOT) -> tuple[Path, ...]:
    """Every contract file under the model folders, in table-name order."""
    return tuple(sorted(root.glob(f"*/*{SUFFIX}"), key=table_of))


@cache
def by_table(root: Path = ROOT) -> dict[str, Path]:
    """The contract file of every model that has one, by table name."""
    found = {}
    for model in discover(root):
        path = contract_path(model.path)
        if path.is_file():
            found[model.name] = path
    return found


def read_json(path: Path) -> dict[str, Any]:
    """A contract or suite file's object, with its name checked against the file's."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ContractError(f"{path}: no such suite file") from exc
    except json.JSONDecodeError as exc:
        raise ContractError(f"{path}: not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("expectations"), list):
        raise ContractError(f"{path}: a suite is an object with an 'expectations' list")
    if data.get("name") != table_of(path):
        raise ContractError(f"{path}: 'name' must be the file's name {table_of(path)!r}")
    return data


@cache
def contract(table: str, root: Path = ROOT) -> dict[str, Any]:
    """The contract of `table` (an empty one when the model has none)."""
    path = by_table(root).get(table)
    return read_json(path) if path else {"name": table, "expectations": []}
