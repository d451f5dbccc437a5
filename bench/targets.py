"""The targets each stage is held to, and the notes the report prints beside them."""

from __future__ import annotations

from typing import Any

from bench.report import GIB


def extract_ratio_met(r: dict[str, Any]) -> bool:
    return (r["extract"]["ratio_to_walk"] or float("inf")) <= 1.2


def no_change_met(r: dict[str, Any]) -> bool:
    rerun = r["rerun_no_change"]
    return (rerun["ratio_to_extract"] or float("inf")) <= 0.05 and rerun["max_per_stream"] <= 2


def demo_met(r: dict[str, Any]) -> bool:
    return r["demo"]["seconds"] <= 90


def targets(r: dict[str, Any]) -> list[dict[str, Any]]:
    """Each performance target: what was measured, whether it is met, and what explains it."""
    ex, nc, tf, demo = r["extract"], r["rerun_no_change"], r["transforms"], r["demo"]
    ledger = tf["balance_transactions"]
    at_scale = f"at {ledger:,} balance transactions, not 1 M" if ledger < 1e6 else ""
    # The memory stage's load where there was one, else the timed extract's.
    mem = r.get("memory") or ex
    rows = mem["rows_total"]
    per_million = tf["seconds"] * 1e6 / ledger if ledger else float("nan")
    slowest = next(iter(tf["models"].items()), ("–", 0.0))
    over_two = ", ".join(f"`{e}`: {v['max']}" for e, v in nc["by_endpoint"].items() if v["max"] > 2)
    rerun_ok = (nc["ratio_to_extract"] or 1) <= 0.05
    return [
        _target(
            "full extract ≤ 1.2 × the bare walk",
            f"{ex['ratio_to_walk']:.2f} × ({ex['seconds']:.1f} s vs {r['walk']['seconds']:.1f} s)",
            extract_ratio_met(r),
            _steps_note(ex) + ("" if extract_ratio_met(r) else f"; {_cpu_note(ex)}; see Profiles"),
        ),
        _target(
            "no-change rerun ≤ 5 % of the full extract",
            f"{nc['ratio_to_extract']:.1%} ({nc['seconds']:.2f} s)",
            rerun_ok,
            "" if rerun_ok else f"{nc['requests']} requests; {_steps_note(nc)}; see Profiles",
        ),
        _target(
            "no-change rerun ≤ 2 requests per stream",
            f"at most {nc['max_per_stream']} per stream ({nc['requests']} requests)",
            nc["max_per_stream"] <= 2,
            f"over 2: {over_two}" if over_two else "",
        ),
        _target(
            "all transforms over 1 M balance transactions ≤ 20 s",
            f"{tf['seconds']:.2f} s",
            # Below 1 M, judged on the linear estimate: an overestimate, the fixed costs scale too.
            (per_million if at_scale else tf["seconds"]) <= 20,
            f"{at_scale}; scaled linearly to 1 M (fixed costs too): {per_million:.0f} s"
            if at_scale
            else "",
            full_scale=not at_scale,
        ),
        _target(
            "all transforms ≤ 5 × the bare scan",
            f"{tf['ratio_to_scan']:.0f} × ({tf['seconds']:.2f} s vs {tf['scan_seconds']:.3f} s)",
            (tf["ratio_to_scan"] or float("inf")) <= 5,
            f"{len(tf['models'])} models, each written as a table; "
            + _floor_note(tf)
            + f"; slowest {slowest[0]} {slowest[1]:.2f} s"
            + (f"; {at_scale}" if at_scale else ""),
            full_scale=not at_scale,
        ),
        _target(
            "peak RSS of a 1 M-row load ≤ 1 GiB",
            f"{mem['peak_rss_bytes'] / GIB:.2f} GiB",
            mem["peak_rss_bytes"] <= GIB,
            f"a load of {rows:,} rows, not 1 M" if rows < 1e6 else "",
            full_scale=rows >= 1e6,
        ),
        _target(
            "`make demo` at default scale ≤ 90 s",
            f"{demo['seconds']:.1f} s",
            demo_met(r),
            "" if demo["default_scale"] else f"at {demo['payments']} payments, not the default",
            full_scale=demo["default_scale"],
        ),
    ]


def _cpu_note(ex: dict[str, Any]) -> str:
    """Where the extract's time goes: its own CPU against the sandbox's, one core each."""
    cpu, served = ex.get("cpu_seconds"), ex.get("sandbox_cpu_seconds")
    if not cpu or not served:
        return "no CPU split measured"
    split = f"its own CPU {cpu:.1f} s against the sandbox's {served:.1f} s serving it"
    if cpu <= served:
        return split
    # Python runs on one core (the GIL), so however its threads overlap the sandbox's, the
    # extract takes at least its own CPU time.
    return f"{split}: bound by its own Python (one core), not by waiting for pages"


def _floor_note(tf: dict[str, Any]) -> str:
    """Why the ratio to the bare scan cannot reach 5: the cost of writing the tables at all."""
    floor, scan = tf.get("floor_seconds"), tf.get("scan_seconds")
    if not floor or not scan:
        return "no floor measured"
    return (
        f"writing {len(tf['models'])} one-row tables alone takes {floor:.3f} s "
        f"({floor / scan:.0f} × the scan): out of reach without fusing the models into one query"
    )


def _steps_note(run: dict[str, Any]) -> str:
    steps = run.get("steps") or {}
    return "dlt: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in steps.items())


def _target(
    name: str, measured: str, met: bool, note: str = "", full_scale: bool = True
) -> dict[str, Any]:
    """`full_scale` False: measured below the target's own scale (1 M rows, the demo's size)."""
    return {
        "target": name,
        "measured": measured,
        "met": bool(met),
        "at_target_scale": full_scale,
        "note": note,
    }
