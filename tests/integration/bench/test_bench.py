"""`make bench` (`python -m bench`), tiny: every stage runs and the report has every section.

No timing is asserted anywhere: the figures depend on the machine and its load.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from bench.__main__ import main
from bench.harness import request_breakdown
from bench.report import to_markdown

SECTIONS = (
    "## Machine",
    "## Targets",
    "## The limit: a bare walk of the same pages",
    "## Full extract",
    "## No-change rerun",
    "## One day of new data",
    "## Transforms",
    "## Gates",
    "## Exports",
    "## make demo",
    "## Peak memory of a large load",
    "## Profiles",
)
FIGURES = (
    "meta",
    "world",
    "walk",
    "extract",
    "rerun_no_change",
    "rerun_one_day",
    "transforms",
    "gates",
    "exports",
    "demo",
    "memory",
    "targets",
    "profiles",
)


@pytest.mark.slow
def test_bench_writes_both_reports_with_every_section(tmp_path) -> None:
    out = tmp_path / "benchmarks.md"
    args = ["--scale", "300", "--repeat", "1", "--demo-payments", "300"]
    args += ["--rss-rows", "10000"]  # more rows than 300 payments load
    result = CliRunner().invoke(main, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output

    markdown = out.read_text()
    for section in SECTIONS:
        assert section in markdown, section
    results = json.loads(out.with_suffix(".json").read_text())
    assert set(FIGURES) <= set(results)
    assert results["walk"]["requests"] == results["extract"]["requests"] > 0
    assert results["extract"]["peak_rss_bytes"] > 0
    # The CPU split that says whether the extract waits for pages or for its own Python.
    assert results["extract"]["cpu_seconds"] > 0 and results["extract"]["sandbox_cpu_seconds"] > 0
    # Peak memory is measured on a load sized to --rss-rows, and the target reads it.
    memory = results["memory"]
    assert memory["rows_total"] > results["extract"]["rows_total"] and memory["peak_rss_bytes"] > 0
    rss_target = next(t for t in results["targets"] if "peak RSS" in t["target"])
    assert rss_target["measured"] == f"{memory['peak_rss_bytes'] / 2**30:.2f} GiB"
    assert results["rerun_no_change"]["requests"] > 0
    assert results["transforms"]["models"]
    assert results["transforms"]["floor_seconds"] > 0  # what explains the ratio to the scan
    scan_target = next(t for t in results["targets"] if "bare scan" in t["target"])
    assert "one-row tables alone take" in scan_target["note"]
    assert len(results["demo"]["exit_codes"]) == 1  # timed whatever its outcome
    assert len(results["targets"]) == 7
    assert all(isinstance(t["met"], bool) for t in results["targets"])
    # Profiles are taken for missed targets only; whichever were taken have their functions.
    assert all(p["top"] for p in results["profiles"].values())
    # A later run shows this one as its baseline.
    assert "## Before and after" in to_markdown(results, baseline=results)


def test_requests_are_counted_per_list_walked() -> None:
    targets = [
        "/v2/payments?limit=250&profileId=pfl_a",
        "/v2/payments?from=tr_x&limit=250&profileId=pfl_a",
        "/v2/payments?limit=250&profileId=pfl_b",
        "/v2/balances/bal_1/transactions?limit=250",
        "/v2/balances/bal_1/transactions?limit=1",
        "/v2/balances/bal_2/transactions?limit=250",
    ]
    breakdown = request_breakdown(targets)
    assert breakdown["requests"] == 6
    assert breakdown["max_per_stream"] == 2
    assert breakdown["by_endpoint"] == {
        "/v2/balances/{id}/transactions": {"requests": 3, "streams": 2, "max": 2},
        "/v2/payments": {"requests": 3, "streams": 2, "max": 2},
    }


@pytest.mark.slow
def test_py_spy_profiles_a_real_extract(tmp_path) -> None:
    from bench.children import child_env, extract_child, pyspy, top_sampled
    from sandbox.generate import SandboxConfig
    from sandbox.server import DEFAULT_ACCESS_TOKEN, SandboxServer

    assert pyspy(), "py-spy comes with the dev group (uv sync)"
    config = SandboxConfig.from_cli(seed=7, payments=400, days=30, now="2026-11-01T00:00:00Z")
    with SandboxServer(config) as server:
        env = child_env(
            tmp_path / "pyc",
            MOLLIE_API_BASE_URL=server.base_url,
            MOLLIE_ACCESS_TOKEN=DEFAULT_ACCESS_TOKEN,
            MOLLIE_RATE_PER_SECOND="0",
        )
        try:
            child = extract_child(tmp_path / "w.duckdb", env, tmp_path / "extract.pyspy")
        except RuntimeError as exc:
            if "ermission" in str(exc):  # a container without ptrace: the bench uses cProfile
                pytest.skip(f"py-spy may not read processes here: {str(exc)[-200:]}")
            raise
    assert sum(child.payload["rows"].values()) > 400  # the extract ran to the end under py-spy
    functions = [f["function"] for f in top_sampled(tmp_path / "extract.pyspy", n=200)]
    # Our own code shows by name, not only the libraries under it.
    assert any(f.startswith("extract/") for f in functions), functions[:20]
