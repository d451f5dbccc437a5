"""monitoring/ against the code: the Grafana dashboard and the alert rules may only use metrics
reporting/metrics.py emits, the dashboard is a valid classic JSON model, and promtool accepts
the Prometheus files.

The emitted names come from the registry metrics.py builds (never a list kept here), so a metric
renamed in the code fails this test until the dashboard and the alerts follow.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from reporting.metrics import RunMetrics, build_registry

MONITORING = Path(__file__).parents[3] / "monitoring"
DASHBOARD = MONITORING / "grafana" / "dashboards" / "mollie-ledger.json"
DATASOURCES = MONITORING / "grafana" / "provisioning" / "datasources" / "datasource.yml"
ALERTS = MONITORING / "alerts.yml"
PROMTOOL = shutil.which("promtool")
GRID_COLUMNS = 24

# The sample names each metric type exposes (text format 0.0.4) beside the family name.
_SUFFIXES = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum"),
}


def emitted_families() -> dict[str, str]:
    """family name → type, of the registry the code builds for a run."""
    registry = build_registry(RunMetrics(success=True, duration_seconds=1.0))
    return {family.name: family.type for family in registry.collect()}


def emitted_names() -> set[str]:
    """Every sample name a query may use."""
    return {
        name + suffix for name, kind in emitted_families().items() for suffix in _SUFFIXES[kind]
    }


# -- PromQL: the metric names an expression selects ------------------------------------------

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_GRAFANA_VARIABLES = re.compile(r"\$\{[^}]*\}|\$\w+")
# An identifier not preceded by a digit or dot (1e3, 0.5) and not called like a function.
_IDENTIFIER = re.compile(r"(?<![\w:.])([A-Za-z_:][\w:]*)\b(?!\s*\()")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """The metric names in a PromQL expression (label names, values, functions, aggregation
    clauses and Grafana variables removed first)."""
    text = _STRINGS.sub(" ", expr)
    text = _MATCHERS.sub(" ", text)
    text = _RANGES.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    text = _GRAFANA_VARIABLES.sub(" ", text)
    return {name for name in _IDENTIFIER.findall(text) if name.lower() not in _KEYWORDS}


def test_metric_names_parser() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (le, endpoint) (rate(a_bucket{job=~"$job"}[5m]))) '
        '/ on (job) b_total offset 1h > bool 1e3 or vector(0) unless count(c{x="sum(d)"}) and '
        'time() - e_seconds{job=~"${job}"} > 26 * 3600'
    )
    assert metric_names(expr) == {"a_bucket", "b_total", "c", "e_seconds"}


def test_the_registry_names_are_the_documented_ones() -> None:
    families = emitted_families()
    assert all(name.startswith("mollie_ledger_") for name in families)
    # Prometheus naming: counters end in _total in the exposition, units are suffixes.
    assert families["mollie_ledger_requests"] == "counter"
    assert families["mollie_ledger_request_duration_seconds"] == "histogram"
    assert families["mollie_ledger_last_success_timestamp_seconds"] == "gauge"


# -- the dashboard ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def panels(container: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those inside collapsed rows."""
    for panel in container.get("panels", []):
        yield panel
        yield from panels(panel)


def dashboard_queries(dashboard: dict[str, Any]) -> list[str]:
    """Every PromQL expression: panel targets and query variables (label_values' metric)."""
    queries = [t["expr"] for p in panels(dashboard) for t in p.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] != "query":
            continue
        query = variable["query"]
        query = query["query"] if isinstance(query, dict) else query
        label_values = re.fullmatch(r"\s*label_values\((?:(.*),)?\s*\w+\s*\)\s*", query)
        queries.append(label_values.group(1) or "" if label_values else query)
    return queries


def test_dashboard_uses_only_emitted_metrics(dashboard: dict[str, Any]) -> None:
    emitted = emitted_names()
    queries = dashboard_queries(dashboard)
    assert queries
    used = set().union(*(metric_names(q) for q in queries))
    assert used, "no metric names found in the dashboard's queries"
    assert used <= emitted, f"not emitted by reporting/metrics.py: {sorted(used - emitted)}"


def test_dashboard_shows_every_emitted_metric(dashboard: dict[str, Any]) -> None:
    used = set().union(*(metric_names(q) for q in dashboard_queries(dashboard)))
    shown = {
        name
        for name, kind in emitted_families().items()
        if any(name + suffix in used for suffix in _SUFFIXES[kind])
    }
    assert shown == set(emitted_families())


def test_dashboard_is_a_classic_json_model(dashboard: dict[str, Any]) -> None:
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,40}", dashboard["uid"])
    assert dashboard["title"]
    assert isinstance(dashboard["schemaVersion"], int)
    assert isinstance(dashboard["templating"]["list"], list)
    ids = [p["id"] for p in panels(dashboard)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in panels(dashboard):
        assert panel["type"] and panel["title"]
        if panel["type"] != "row":
            assert panel["targets"], panel["title"]
            assert all(t["refId"] for t in panel["targets"]), panel["title"]


def test_panels_sit_on_the_24_column_grid_without_overlapping(dashboard: dict[str, Any]) -> None:
    cells: dict[tuple[int, int], str] = {}
    for panel in panels(dashboard):
        grid = panel["gridPos"]
        x, y, w, h = (grid[k] for k in ("x", "y", "w", "h"))
        assert all(isinstance(v, int) for v in (x, y, w, h)), panel["title"]
        assert x >= 0 and y >= 0 and w >= 1 and h >= 1, panel["title"]
        assert x + w <= GRID_COLUMNS, f"{panel['title']} runs past column {GRID_COLUMNS}"
        for cell in ((col, row) for col in range(x, x + w) for row in range(y, y + h)):
            assert cell not in cells, f"{panel['title']} overlaps {cells[cell]}"
            cells[cell] = panel["title"]


def test_dashboard_datasource_is_the_provisioned_one(dashboard: dict[str, Any]) -> None:
    (source,) = yaml.safe_load(DATASOURCES.read_text())["datasources"]
    (variable,) = [v for v in dashboard["templating"]["list"] if v["type"] == "datasource"]
    assert variable["query"] == source["type"] == "prometheus"
    assert variable["current"]["value"] == source["uid"]
    reference = {"type": "prometheus", "uid": "${" + variable["name"] + "}"}
    for panel in panels(dashboard):
        assert panel["datasource"] == reference, panel["title"]
        assert all(t["datasource"] == reference for t in panel["targets"]), panel["title"]


# -- the alert rules --------------------------------------------------------------------------


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_alert_rules_use_only_emitted_metrics() -> None:
    emitted = emitted_names()
    for rule in alert_rules():
        used = metric_names(rule["expr"])
        assert used, rule["alert"]
        assert used <= emitted, f"{rule['alert']}: not emitted: {sorted(used - emitted)}"


def test_alert_rules_cover_the_operational_failures() -> None:
    used = set().union(*(metric_names(r["expr"]) for r in alert_rules()))
    for name in (
        "mollie_ledger_run_success",
        "mollie_ledger_last_success_timestamp_seconds",
        "mollie_ledger_findings",
        "mollie_ledger_gate_passed",
        "mollie_ledger_rate_limited_total",
        "mollie_ledger_journal_entries",
    ):
        assert name in used
    assert all(rule["labels"]["severity"] in ("critical", "warning") for rule in alert_rules())


# -- promtool ---------------------------------------------------------------------------------


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    if PROMTOOL is None:
        pytest.skip("promtool is not installed (apt-get install prometheus): cannot lint")
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, cwd=MONITORING)


@pytest.mark.parametrize(
    "args",
    [
        ("check", "rules", "alerts.yml"),
        ("check", "config", "prometheus.yml"),
        ("test", "rules", "alerts_test.yml"),
    ],
    ids=["check-rules", "check-config", "test-rules"],
)
def test_promtool_accepts_the_prometheus_files(args: tuple[str, ...]) -> None:
    result = promtool(*args)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dashboard_queries_are_valid_promql(dashboard: dict[str, Any], tmp_path: Path) -> None:
    """promtool parses each query as a recording rule (Grafana's $job as its "All" value)."""
    rules = [
        {"record": f"dashboard:query_{n}", "expr": _GRAFANA_VARIABLES.sub(".*", q)}
        for n, q in enumerate(dashboard_queries(dashboard))
    ]
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
