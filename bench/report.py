"""The benchmark's reports: the machine it ran on, and its results as JSON and as markdown.

`docs/benchmarks.md` keeps the latest run (`docs/benchmarks.json` the same figures, complete). A
baseline (the JSON of an earlier run) adds a before/after table of the headline figures.
"""

from __future__ import annotations

import json
import math
import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = ("dlt", "duckdb", "dagster", "great-expectations", "httpx", "pandas", "orjson")
QUIET_LOAD = 0.5  # a 1-minute load average above this means others shared the CPUs
GIB = 1024**3


def machine() -> dict[str, Any]:
    """CPU model, cores, RAM, OS, Python and the versions of the packages that set the pace."""
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": round(_mem_total() / GIB, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "packages": {p: _version(p) for p in PACKAGES},
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _mem_total() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def write_reports(
    results: dict[str, Any], markdown_path: Path, baseline: dict[str, Any] | None = None
) -> tuple[Path, Path]:
    """Write `<name>.md` and `<name>.json` side by side; returns both paths."""
    markdown_path.parent.mkdir(parents=True, exist_ok=True)
    json_path = markdown_path.with_suffix(".json")
    json_path.write_text(json.dumps(results, indent=2, sort_keys=False, default=str) + "\n")
    markdown_path.write_text(to_markdown(results, baseline))
    return markdown_path, json_path


# -- markdown ----------------------------------------------------------------------------------


def _s(seconds: float | None) -> str:
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "–"
    return f"{seconds:.3f} s" if seconds < 1 else f"{seconds:.1f} s"


def _x(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f} ×"


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def _runs(runs: list[float]) -> str:
    return ", ".join(f"{s:.2f}" for s in runs)


def to_markdown(r: dict[str, Any], baseline: dict[str, Any] | None = None) -> str:
    meta, m = r["meta"], r["meta"]["machine"]
    # Only the figure from before counts: by the end, the load average is the bench's own work.
    loaded = meta["load_average_before"] > QUIET_LOAD
    out = [
        "# Benchmarks",
        "",
        f"`python -m bench --scale {meta['scale']} --repeat {meta['repeat']}`, run "
        f"{meta['started_at']} (the bench took {_s(meta.get('bench_seconds'))}). Every figure is "
        f"the median of {meta['repeat']} runs; the runs are listed where it matters. Written by "
        "`make bench` (bench/harness.py); the next run replaces this file.",
        "",
    ]
    if loaded:
        out += [
            f"**Taken under load**: the 1-minute load average was "
            f"{meta['load_average_before']:.2f} when the bench started (other work shared the "
            "CPUs); ratios hold better than absolute seconds.",
            "",
        ]
    out += ["## Machine", ""]
    out += _table(
        ["", ""],
        [
            ["CPU", m["cpu"]],
            ["cores", m["cores"]],
            ["RAM", f"{m['ram_gib']} GiB"],
            ["OS", m["os"]],
            ["Python", m["python"]],
            *([p, v] for p, v in m["packages"].items()),
        ],
    )
    if meta.get("shell_dont_write_bytecode"):
        out += [
            "The shell had PYTHONDONTWRITEBYTECODE set; the measured child processes cache "
            "bytecode anyway (in the bench's scratch folder), as any installed project does.",
            "",
        ]
    world = r["world"]
    out += [
        f"Sandbox world: {world['payments']:,} payments, {world['balance_transactions']:,} "
        f"balance transactions, {world['settlements']:,} settlements over {world['days']} days.",
        "",
        "## Targets",
        "",
    ]
    out += _table(
        ["target", "measured", "met", "note"],
        [[t["target"], t["measured"], _met(t), t["note"]] for t in r["targets"]],
    )
    out += _before_after(r, baseline)
    out += _extract_sections(r)
    out += _later_sections(r)
    out += _profiles(r)
    return "\n".join(out).rstrip() + "\n"


def _met(target: dict[str, Any]) -> str:
    met = "yes" if target["met"] else "**no**"
    return met if target.get("at_target_scale", True) else f"{met} (below its scale)"


HEADLINES: list[tuple[str, tuple[str, ...]]] = [
    ("bare walk (s)", ("walk", "seconds")),
    ("full extract (s)", ("extract", "seconds")),
    ("full extract ÷ walk", ("extract", "ratio_to_walk")),
    ("extract peak RSS (GiB)", ("extract", "peak_rss_bytes")),
    ("peak RSS of a 1 M-row load (GiB)", ("memory", "peak_rss_bytes")),
    ("no-change rerun (s)", ("rerun_no_change", "seconds")),
    ("no-change rerun requests", ("rerun_no_change", "requests")),
    ("one-day rerun (s)", ("rerun_one_day", "seconds")),
    ("transforms (s)", ("transforms", "seconds")),
    ("gates (s)", ("gates", "seconds")),
    ("CSV export (s)", ("exports", "csv_seconds")),
    ("posting (s)", ("exports", "post_seconds")),
    ("`mollie-ledger demo` (s)", ("demo", "seconds")),
]


def _get(r: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = r
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    if path[-1] == "peak_rss_bytes" and value is not None:
        value = value / GIB
    return value


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"


def _before_after(r: dict[str, Any], baseline: dict[str, Any] | None) -> list[str]:
    if not baseline:
        return []
    b = baseline["meta"]
    out = [
        "## Before and after",
        "",
        f"Before: {b.get('note') or 'the baseline run'} ({b['started_at']}, scale {b['scale']}, "
        f"repeat {b['repeat']}). After: this run.",
        "",
    ]
    return out + _table(
        ["figure", "before", "after"],
        [[name, _fmt(_get(baseline, path)), _fmt(_get(r, path))] for name, path in HEADLINES],
    )


def _steps(run: dict[str, Any]) -> str:
    steps = run.get("steps") or {}
    parts = ", ".join(f"{name} {_s(seconds)}" for name, seconds in steps.items())
    return f"dlt's steps: {parts}." if parts else ""


def _cpu(ex: dict[str, Any]) -> str:
    if not ex.get("cpu_seconds"):
        return ""
    return (
        f" CPU: the extract {_s(ex['cpu_seconds'])}, the sandbox serving it "
        f"{_s(ex.get('sandbox_cpu_seconds'))} (each one Python process, so one core each)."
    )


def _endpoint_rows(rerun: dict[str, Any]) -> list[list[Any]]:
    return [
        [f"`{e}`", v["requests"], v["streams"], v["max"]] for e, v in rerun["by_endpoint"].items()
    ]


def _extract_sections(r: dict[str, Any]) -> list[str]:
    walk, ex = r["walk"], r["extract"]
    out = [
        "## The limit: a bare walk of the same pages",
        "",
        f"{walk['requests']:,} GETs ({walk['bytes'] / 1e6:.1f} MB), exactly the pages a real "
        "extract fetched, replayed in order with a plain `httpx.Client` against the same sandbox "
        f"process: **{_s(walk['seconds'])}** (runs {_runs(walk['runs'])}).",
        "",
        "## Full extract",
        "",
        f"`run_extract` in a child process, every table from scratch: **{_s(ex['seconds'])}**, "
        f"{_x(ex['ratio_to_walk'])} the walk (runs {_runs(ex['runs'])}; an untimed warm-up "
        f"took {_s(ex['warm_up_seconds'])}). {ex['requests']:,} requests, "
        f"{ex['rows_total']:,} rows, peak RSS {ex['peak_rss_bytes'] / GIB:.2f} GiB. "
        f"{_steps(ex)}{_cpu(ex)}",
        "",
    ]
    out += _table(
        ["table", "rows", "rows/s (over the whole extract)"],
        [[t, f"{n:,}", f"{ex['rows_per_second'][t]:,.0f}"] for t, n in ex["rows"].items()],
    )
    for key, title in (
        ("rerun_no_change", "No-change rerun"),
        ("rerun_one_day", "One day of new data (sandbox advanced by a day)"),
    ):
        rerun = r[key]
        out += [
            f"## {title}",
            "",
            f"**{_s(rerun['seconds'])}** ({rerun['ratio_to_extract']:.1%} of the full extract; "
            f"runs {_runs(rerun['runs'])}), {rerun['requests']} requests, at most "
            f"{rerun['max_per_stream']} for one stream (a stream: one list walked, i.e. an "
            f"endpoint with its non-paging parameters). {_steps(rerun)}",
            "",
        ]
        out += _table(["endpoint", "requests", "streams", "most per stream"], _endpoint_rows(rerun))
    return out


def _later_sections(r: dict[str, Any]) -> list[str]:
    tf, gates, ex, demo = r["transforms"], r["gates"], r["exports"], r["demo"]
    out = [
        "## Transforms",
        "",
        f"Every SQL model over {tf['balance_transactions']:,} balance transactions: "
        f"**{_s(tf['seconds'])}** (runs {_runs(tf['runs'])}), {_x(tf['ratio_to_scan'])} the bare "
        f"scan `{'select balance_id, sum(result_amount), count(*) … group by 1'}` "
        f"({_s(tf['scan_seconds'])}).",
        "",
    ]
    out += _table(["model", "seconds"], [[m, f"{s:.3f}"] for m, s in tf["models"].items()])
    out += ["## Gates", ""]
    if gates.get("status") == "measured":
        out += [
            f"{gates['suites']} expectation suites: **{_s(gates['seconds'])}** "
            f"(runs {_runs(gates['runs'])}; {gates['suites_failed']} suite(s) failed"
            + (f": {', '.join(gates['failed'])}" if gates.get("failed") else "")
            + "). "
            f"`import great_expectations` in a fresh interpreter: "
            f"**{_s(gates['import_seconds'])}**; the first runner of a process (that import and "
            f"the GX context): {_s(gates['setup_seconds'])}.",
            "",
        ]
    else:
        imported = gates.get("import_seconds")
        out += [
            f"Not measured: {gates.get('reason', '')}."
            + (f" `import great_expectations`: {_s(imported)}." if imported else ""),
            "",
        ]
    out += [
        "## Exports",
        "",
        f"CSV: **{_s(ex['csv_seconds'])}** for {ex['csv_files']} files, {ex['csv_rows']:,} rows "
        f"(runs {_runs(ex['csv_runs'])}). Posting to the Frappe test server: "
        f"**{_s(ex['post_seconds'])}** for {ex['posted']} journal entries "
        f"(runs {_runs(ex['post_runs'])}; a fresh outbox and server each run).",
        "",
        "## make demo",
        "",
        f"`mollie-ledger demo --payments {demo['payments']}` in a subprocess, end to end "
        f"(sandbox, extract, bank statements, transforms, gates, exports; `make demo` adds only "
        f"`uv sync`): **{_s(demo['seconds'])}** (runs {_runs(demo['runs'])}; exit codes "
        f"{demo['exit_codes']}), peak RSS {demo['peak_rss_bytes'] / GIB:.2f} GiB.",
        "",
    ]
    mem = r.get("memory")
    if mem:
        out += [
            "## Peak memory of a large load",
            "",
            f"One untimed extract of a sandbox of {mem['payments']:,} payments, "
            f"{mem['rows_total']:,} rows from scratch: peak RSS "
            f"**{mem['peak_rss_bytes'] / GIB:.2f} GiB** (the child's own VmHWM), "
            f"{_s(mem['seconds'])}. {_steps(mem)}",
            "",
        ]
    return out


def _profiles(r: dict[str, Any]) -> list[str]:
    profiles = r.get("profiles") or {}
    out = ["## Profiles", ""]
    if not profiles:
        return [*out, "Every profiled stage met its target, or profiling was off.", ""]
    out += [
        "For each stage whose target is missed, one more run (untimed). The extract and its "
        "rerun are sampled by py-spy across every thread, counting only samples that hold the "
        "GIL: where the process's one core goes (own = in the function itself, cumulative = "
        "with what it calls; seconds of that core). Elsewhere, or where py-spy cannot run, "
        "cProfile: the main thread only, by cumulative time (transforms: the slowest models).",
        "",
    ]
    for name, profile in profiles.items():
        out += [f"### {name}", ""]
        if profile["kind"] == "models":
            out += ["The slowest models (every model is under Transforms):", ""]
            out += _table(["model", "seconds"], [[m, f"{s:.3f}"] for m, s in profile["top"]])
            continue
        if profile["kind"] == "py-spy":
            out += ["py-spy, by own time:", ""]
            out += _table(
                ["own s", "cumulative s", "function"],
                [
                    [f"{f['tottime']:.2f}", f"{f['cumtime']:.2f}", f"`{f['function']}`"]
                    for f in profile["top"]
                ],
            )
            continue
        out += ["cProfile, by cumulative time:", ""]
        out += _table(
            ["cumulative s", "own s", "calls", "function"],
            [
                [f"{f['cumtime']:.2f}", f"{f['tottime']:.2f}", f["calls"], f"`{f['function']}`"]
                for f in profile["top"]
            ],
        )
    return out
