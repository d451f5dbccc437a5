"""SQL models: one `.sql` file per table under staging/, intermediate/ and marts/.

A model is `<layer folder>/<table>.sql` holding one SELECT; it becomes `<schema>.<table>` with
schema = the folder name. Its first comment lines state its grain (`-- grain: one row per …`);
a staging or mart model's `<table>.contract.json` beside it holds the rest of its contract (foreign
keys, derived flags, expectations), read by quality.contracts.
Dependencies are read from the SQL itself with sqlglot (every table it references that is not
one of its own CTEs), so nothing is declared twice: the Dagster graph, the build order and the
docs all come from the files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from graphlib import TopologicalSorter
from pathlib import Path

import sqlglot
from sqlglot import exp

ROOT = Path(__file__).parent
LAYERS = ("staging", "intermediate", "marts")
_GRAIN = re.compile(r"^--\s*grain:\s*(.+)$", re.IGNORECASE | re.MULTILINE)
_GROUP = re.compile(r"^--\s*group:\s*(\w+)\s*$", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class Model:
    schema: str
    name: str
    sql: str
    grain: str
    path: Path
    deps: frozenset[tuple[str, str]]  # (schema, table) this model reads

    @property
    def key(self) -> tuple[str, str]:
        return self.schema, self.name

    @property
    def group(self) -> str:
        """Its group in the UI: `-- group: …` in the header, else staging or reconciliation."""
        found = _GROUP.search(self.sql)
        if found:
            return found.group(1)
        return "staging" if self.schema == "staging" else "reconciliation"

    @property
    def description(self) -> str:
        """The file's leading comment block (grain first), for docs and the Dagster UI."""
        lines = []
        for line in self.sql.splitlines():
            if not line.startswith("--"):
                break
            if not _GROUP.match(line):
                lines.append(line[2:].strip())
        return "\n".join(lines)


def table_references(sql: str) -> frozenset[tuple[str, str]]:
    """Every schema-qualified table a SELECT reads, minus its own CTEs."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    refs = set()
    for table in tree.find_all(exp.Table):
        if table.db and table.name not in ctes:
            refs.add((table.db, table.name))
    return frozenset(refs)


@cache
def discover(root: Path = ROOT) -> tuple[Model, ...]:
    """All models under `root`, in an order where each comes after what it reads."""
    found: dict[tuple[str, str], Model] = {}
    for layer in LAYERS:
        for path in sorted((root / layer).glob("*.sql")):
            sql = path.read_text(encoding="utf-8")
            grain = _GRAIN.search(sql)
            if grain is None:
                raise ValueError(f"{path}: the model must state its grain ('-- grain: …')")
            found[(layer, path.stem)] = Model(
                layer, path.stem, sql, grain.group(1).strip(), path, table_references(sql)
            )
    graph = {key: {d for d in m.deps if d in found} for key, m in found.items()}
    return tuple(found[key] for key in TopologicalSorter(graph).static_order())
