"""`make bench` (`python -m bench`): time every stage against its yardstick, write the report.

A developer tool, not part of the package: it drives the sandbox, the Frappe stand-in and the
product's stages in child processes (bench.harness) and writes docs/benchmarks.md and its JSON
(bench.report).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from bench.harness import DEFAULT_REPEAT, DEFAULT_SCALE, RSS_ROWS, BenchOptions, run_bench
from bench.report import write_reports
from sandbox.demo import SANDBOX_DAYS, SANDBOX_PAYMENTS


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--scale",
    default=DEFAULT_SCALE,
    show_default=True,
    help=f"Sandbox payments (over {SANDBOX_DAYS} days) for the extract, transforms and exports.",
)
@click.option(
    "--repeat", default=DEFAULT_REPEAT, show_default=True, help="Runs per figure (the median)."
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("docs/benchmarks.md"),
    show_default=True,
    help="The markdown report; the JSON goes beside it (same name, .json).",
)
@click.option(
    "--demo-payments",
    default=SANDBOX_PAYMENTS,
    show_default=True,
    help="Payments for the timed `mollie-ledger demo` (its default scale).",
)
@click.option(
    "--baseline",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="The JSON of an earlier run: the report adds a before/after table.",
)
@click.option(
    "--rss-rows",
    default=RSS_ROWS,
    show_default=True,
    help="Rows for the untimed extract measuring peak memory (0: skip it).",
)
@click.option("--note", default="", help="What this run is, shown when it is a later baseline.")
@click.option(
    "--profile/--no-profile",
    default=True,
    show_default=True,
    help="Profile (cProfile) each stage whose target is missed.",
)
def main(scale, repeat, out, demo_payments, baseline, rss_rows, note, profile) -> None:
    """Measure every stage on this machine against its yardstick and write the report.

    Extract against a bare HTTP walk of the same pages, reruns against the full extract,
    transforms against a bare ledger scan; gates, exports and `mollie-ledger demo` in seconds.
    Every figure is the median of --repeat runs. Needs a quiet machine for absolute figures.
    """
    if scale < 1 or repeat < 1 or demo_payments < 1:
        raise click.BadParameter("--scale, --repeat and --demo-payments must be at least 1")
    if rss_rows < 0:
        raise click.BadParameter("--rss-rows must be 0 (skip) or more")
    options = BenchOptions(
        scale=scale,
        repeat=repeat,
        demo_payments=demo_payments,
        profile=profile,
        note=note,
        rss_rows=rss_rows,
        log=lambda line: click.echo(line, err=True),
    )
    results = run_bench(options)
    before = json.loads(baseline.read_text()) if baseline else None
    md, js = write_reports(results, out, before)
    for t in results["targets"]:
        verdict = "met" if t["met"] else "MISSED"
        scale = "" if t["at_target_scale"] else " (below its scale)"
        click.echo(f"  [{verdict}] {t['target']}: {t['measured']}{scale}")
    click.echo(f"Wrote {md} and {js}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
