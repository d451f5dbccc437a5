"""The shape of the code: stages import only downward, no import cycles, no development tool in
the product, orchestration/ is Dagster wiring only, and the wheel ships the product alone.

The layer and forbidden contracts are the ones in pyproject.toml's [tool.importlinter] (what
`lint-imports` checks); each is also tried on a graph with one bad import added, so a contract
that checks nothing would fail here.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())
LINTER = CONFIG["tool"]["importlinter"]
CONTRACTS = {c["id"]: c for c in LINTER["contracts"]}
LAYERS = CONTRACTS["stages-downward"]["layers"]
FORBIDDEN = CONTRACTS["no-dev-tools-in-product"]
PRODUCT = CONFIG["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
DEV_TOOLS = ("sandbox", "bench")


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    sys.path.insert(0, str(ROOT))
    try:
        return grimp.build_graph(*LINTER["root_packages"])
    finally:
        sys.path.remove(str(ROOT))


def upward_imports(graph: grimp.ImportGraph) -> list[str]:
    found = graph.find_illegal_dependencies_for_layers(layers=LAYERS)
    return sorted(f"{d.importer} -> {d.imported}: {_routes(d)}" for d in found)


def _routes(dependency) -> list[list[str]]:
    return [[*sorted(r.heads), *r.middle, *sorted(r.tails)] for r in dependency.routes]


def dev_tool_imports(graph: grimp.ImportGraph) -> list[str]:
    return sorted(
        f"{source} -> {tool}: {chain}"
        for source in FORBIDDEN["source_modules"]
        for tool in FORBIDDEN["forbidden_modules"]
        if (chain := graph.find_shortest_chain(importer=source, imported=tool, as_packages=True))
    )


def test_the_stages_import_only_downward(graph):
    assert upward_imports(graph) == []


def test_an_upward_import_breaks_the_layer_contract(graph):
    graph.add_import(importer="extract.paths", imported="reporting.report")
    try:
        assert any(v.startswith("extract -> reporting") for v in upward_imports(graph))
    finally:
        graph.remove_import(importer="extract.paths", imported="reporting.report")


def test_no_product_module_imports_the_sandbox_or_the_bench(graph):
    assert set(DEV_TOOLS) == set(FORBIDDEN["forbidden_modules"])
    # Every shipped package is watched (the CLI's dev commands excepted: they are the wiring).
    watched = {m.split(".")[0] for m in FORBIDDEN["source_modules"]}
    assert watched == set(PRODUCT)
    assert dev_tool_imports(graph) == []


def test_a_product_import_of_the_sandbox_breaks_the_forbidden_contract(graph):
    graph.add_import(importer="extract.webhooks", imported="sandbox.server")
    try:
        assert [v for v in dev_tool_imports(graph) if v.startswith("extract -> sandbox")]
    finally:
        graph.remove_import(importer="extract.webhooks", imported="sandbox.server")


def test_no_module_imports_itself_through_others(graph):
    """No cycle between modules, function-level imports included (they hide a cycle, they do
    not remove it)."""
    cycles = []
    for module in sorted(graph.modules):
        if module.split(".")[0] in DEV_TOOLS:
            continue
        for imported in graph.find_modules_directly_imported_by(module):
            chain = graph.find_shortest_chain(importer=imported, imported=module)
            if chain:
                cycles.append(" -> ".join((module, *chain)))
    assert cycles == []


def _imports_dagster(path: Path) -> bool:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(
            a.name.split(".")[0] == "dagster" for a in node.names
        ):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0].startswith(
            "dagster"
        ):
            return True
    return False


def test_orchestration_holds_dagster_definitions_only():
    files = [p for p in (ROOT / "orchestration").glob("*.py") if p.name != "__init__.py"]
    assert files
    assert [p.name for p in files if not _imports_dagster(p)] == []


def test_only_the_cli_and_dagster_import_orchestration(graph):
    importers = {
        m.split(".")[0] for m in graph.find_downstream_modules("orchestration", as_package=True)
    }
    assert importers == {"cli"}


@pytest.mark.slow
def test_the_wheel_ships_the_product_without_the_sandbox_or_the_bench(tmp_path):
    # `uv run` (how `make test` starts pytest) names its own binary in UV; inside the venv,
    # `python3 -m uv` would find no uv module.
    found = os.environ.get("UV") or shutil.which("uv")
    uv = [found] if found else ["python3", "-m", "uv"]
    built = subprocess.run(
        [*uv, "build", "--wheel", "--out-dir", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr
    [wheel] = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    tops = {name.split("/")[0] for name in names if ".dist-info" not in name}
    assert tops == set(PRODUCT)
    assert not tops & set(DEV_TOOLS)
    # The model contracts are data beside the SQL: without them the gates have no suite to run.
    data = {p.relative_to(ROOT).as_posix() for p in ROOT.glob("transforms/*/*.contract.json")}
    data.add("quality/expectations/shared/privacy.json")
    assert len(data) > 1 and data <= names
