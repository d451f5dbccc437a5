"""`make bench` (`python -m bench`): how fast each stage runs here, next to its yardstick.

Every figure is the median of `repeat` runs, set beside a yardstick measured the same way in the
same session, so the ratios hold on any machine:

- the limit: a bare sequential httpx walk of exactly the pages a real extract fetched (the URLs
  come from the sandbox's request log) against the same sandbox process;
- full extract: in a child process (so its peak RSS is its own: `VmHWM`, see `run_child`),
  against that walk; no-change and one-day-of-new-data reruns against the full extract, with
  the requests per stream (one stream = one list walked: an endpoint with its non-paging
  parameters);
- transforms: every SQL model, against a bare DuckDB aggregate scan of the ledger;
- gates (Great Expectations, whose import is timed on its own in a fresh process), CSV export,
  posting to the Frappe test stand-in, and `mollie-ledger demo` end to end in a subprocess.

The sandbox runs in this process and the extract in a child, so on two cores each has one. A
stage whose target is missed is run once more under cProfile (not timed) and the report shows
the top functions by cumulative time. bench.children runs the measured child processes,
bench.targets holds each figure to its target, bench.report writes the JSON and markdown.

Over 500 lines on purpose: `Bench` is one run's stages in the order they run, each a method on
the same sandbox, world and results; split, a stage would no longer read top to bottom.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import shutil
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from bench.children import (
    DLT_STEPS,
    ChildResult,
    child_env,
    extract_child,
    pyspy,
    run_child,
    top_functions,
    top_sampled,
)
from bench.report import machine
from bench.targets import demo_met, extract_ratio_met, no_change_met, targets
from sandbox.demo import SANDBOX_DAYS, SANDBOX_NOW, SANDBOX_PAYMENTS, SANDBOX_SEED

# duckdb, httpx and the pipeline's own modules are imported where they are used: `python -m
# bench` imports this module for its defaults, and `--help` stays fast.

DEFAULT_SCALE = 100_000
DEFAULT_REPEAT = 3
RSS_ROWS = 1_000_000  # the peak-RSS target is for a load of this many rows
# The ledger scan the transforms are measured against: one pass over every row, grouped.
BARE_SCAN = (
    "select balance_id, sum(result_amount), count(*) from mollie.balance_transactions group by 1"
)
_ID_SEGMENT = re.compile(r"^[a-z]{2,4}_[A-Za-z0-9]+$")  # bal_…, stl_…, tr_…: one object
_PAGING = {"from", "limit"}


@dataclass
class BenchOptions:
    """What to measure. The defaults are `make bench`'s."""

    scale: int = DEFAULT_SCALE  # sandbox payments over SANDBOX_DAYS
    repeat: int = DEFAULT_REPEAT
    demo_payments: int = SANDBOX_PAYMENTS  # `mollie-ledger demo --payments`
    profile: bool = True  # profile the stages whose target is missed
    note: str = ""  # what this run is (shown when a later run uses it as its baseline)
    rss_rows: int = RSS_ROWS  # rows loaded by the memory stage (0 skips it)
    log: Callable[[str], None] = print  # progress lines (the CLI sends them to stderr)


@dataclass
class Runs:
    """Timed repeats of one measurement: the median is the figure."""

    seconds: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds) if self.seconds else float("nan")

    def as_dict(self) -> dict[str, Any]:
        return {"seconds": self.median, "runs": [round(s, 4) for s in self.seconds]}


def ratio(value: float | None, yardstick: float | None) -> float | None:
    if value is None or not yardstick:
        return None
    return value / yardstick


def median_steps(runs: list[dict[str, float]]) -> dict[str, float]:
    """The median seconds of each dlt step over several runs."""
    return {s: statistics.median(r.get(s, 0.0) for r in runs) for s in DLT_STEPS}


@contextlib.contextmanager
def stopwatch(runs: Runs) -> Iterator[None]:
    started = time.perf_counter()
    yield
    runs.seconds.append(time.perf_counter() - started)


# -- requests ---------------------------------------------------------------------------------


def endpoint(target: str) -> str:
    """The endpoint of a request target: ids replaced by {id} (`/v2/settlements/{id}/payments`)."""
    path = urlsplit(target).path
    return "/".join("{id}" if _ID_SEGMENT.match(p) else p for p in path.split("/"))


def stream(target: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """One list walked: the path and its parameters, except the paging ones (`from`, `limit`)."""
    split = urlsplit(target)
    params = tuple(sorted((k, v) for k, v in parse_qsl(split.query) if k not in _PAGING))
    return split.path, params


def request_breakdown(targets: list[str]) -> dict[str, Any]:
    """Requests per endpoint, and per stream (the most any one stream took, per endpoint)."""
    per_stream = Counter(stream(t) for t in targets)
    endpoints: dict[str, dict[str, int]] = {}
    for (path, _), n in per_stream.items():
        row = endpoints.setdefault(endpoint(path), {"requests": 0, "streams": 0, "max": 0})
        row["requests"] += n
        row["streams"] += 1
        row["max"] = max(row["max"], n)
    return {
        "requests": len(targets),
        "max_per_stream": max(per_stream.values(), default=0),
        "by_endpoint": dict(sorted(endpoints.items())),
    }


def bare_walk(origin: str, targets: list[str], token: str) -> tuple[float, int]:
    """GET every target in order with a plain httpx client: (seconds, body bytes)."""
    import httpx

    received = 0
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/hal+json"}
    with httpx.Client(base_url=origin, headers=headers, timeout=60) as client:
        started = time.perf_counter()
        for target in targets:
            response = client.get(target)
            response.raise_for_status()
            received += len(response.content)
        return time.perf_counter() - started, received


# -- the machine ------------------------------------------------------------------------------


def load_average() -> float:
    return os.getloadavg()[0]


def gx_import_seconds(env: dict[str, str]) -> float:
    """`import great_expectations` in a fresh interpreter (what the first gate of a run pays)."""
    code = (
        "import json, time; t = time.perf_counter(); import great_expectations; "
        "print(json.dumps({'seconds': time.perf_counter() - t}))"
    )
    return run_child(["-c", code], env).payload["seconds"]


# -- the stages -------------------------------------------------------------------------------

# An extract in a child process into a warehouse (under cProfile when given a file): the child's
# result and the request targets the sandbox logged for it.
Extract = Callable[..., tuple[ChildResult, list[str]]]


class Bench:
    """One benchmark session: a sandbox at `scale`, a scratch folder, the results so far."""

    def __init__(self, options: BenchOptions, work: Path) -> None:
        self.o = options
        self.work = work
        self.results: dict[str, Any] = {"profiles": {}}

    def log(self, message: str) -> None:
        self.o.log(f"bench: {message}")

    def env(self, **extra: str) -> dict[str, str]:
        return child_env(self.work / "pycache", **extra)

    def profiled(self, name: str, run: Callable[[Path], object], sampled: bool = False) -> None:
        """Run once more (untimed) and keep the top functions.

        `sampled`: `run` takes a `.pyspy` file, for py-spy's view of every thread, where py-spy
        can run (installed, and allowed to read the child's memory); else under cProfile, which
        sees only the main thread.
        """
        if not self.o.profile:
            return
        self.log(f"profiling {name}")
        if sampled and pyspy():
            out = self.work / f"{name}.pyspy"
            try:
                run(out)
                self.results["profiles"][name] = {"kind": "py-spy", "top": top_sampled(out)}
                return
            except (RuntimeError, OSError, ValueError) as exc:
                reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else repr(exc)
                self.log(f"py-spy could not sample {name} ({reason}); cProfile instead")
        out = self.work / f"{name}.prof"
        run(out)
        self.results["profiles"][name] = {"kind": "cprofile", "top": top_functions(out)}

    def sandbox_env(self, base_url: str) -> dict[str, str]:
        """A child's environment pointing at the sandbox at `base_url`."""
        from sandbox.server import DEFAULT_ACCESS_TOKEN

        return self.env(
            MOLLIE_API_BASE_URL=base_url,
            MOLLIE_ACCESS_TOKEN=DEFAULT_ACCESS_TOKEN,
            MOLLIE_RATE_PER_SECOND="0",  # the token bucket protects Mollie, not localhost
        )

    # -- extract, against the walk ------------------------------------------------------------
    def extract_stages(self) -> Path:
        """Walk, full extract and both reruns against one sandbox; returns the final warehouse."""
        from sandbox.bank import write_camt053
        from sandbox.clock import DAY
        from sandbox.generate import SandboxConfig
        from sandbox.server import DEFAULT_ACCESS_TOKEN, SandboxServer

        config = SandboxConfig.from_cli(
            seed=SANDBOX_SEED, payments=self.o.scale, days=SANDBOX_DAYS, now=SANDBOX_NOW
        )
        self.log(f"generating the sandbox world (~{self.o.scale} payments)")
        with SandboxServer(config, log_requests=True) as server:
            world = server.world
            self.results["world"] = {
                "payments": len(world.payments),
                "balance_transactions": len(world.transactions),
                "settlements": len(world.settlements),
                "days": SANDBOX_DAYS,
            }
            env = self.sandbox_env(server.base_url)
            log = server.request_log
            assert log is not None
            origin = server.base_url.removesuffix("/v2")

            def extract(db: Path, profile: Path | None = None) -> tuple[ChildResult, list[str]]:
                """One extract in a child; with the request targets it sent, from the log."""
                mark, cpu = len(log), time.process_time()
                child = extract_child(db, env, profile)
                child.server_cpu_seconds = time.process_time() - cpu
                return child, log[mark:]

            db = self.full_extract(extract, origin, DEFAULT_ACCESS_TOKEN)
            self.results["rerun_no_change"] = self.reruns(db, extract, restore=None)
            if not no_change_met(self.results):
                copy = self.work / "prof-rerun"
                shutil.copytree(db.parent, copy)
                self.profiled(
                    "rerun_no_change", lambda out: extract(copy / db.name, out), sampled=True
                )

            snapshot = self.work / "snapshot"
            shutil.copytree(db.parent, snapshot)
            self.log("advancing the sandbox by one day")
            server.advance(server.config.now + DAY)
            self.results["rerun_one_day"] = self.reruns(db, extract, restore=snapshot)
            write_camt053(server.world, self.work / "bank")
        return db

    def full_extract(self, extract: Extract, origin: str, token: str) -> Path:
        """The bare walk and the full extract, interleaved; returns the last extract's warehouse."""
        # Untimed warm-up: the sandbox's lists and caches, and the pages to replay.
        self.log("warm-up extract (untimed)")
        warm, targets = extract(self.work / "warm" / "w.duckdb")
        shutil.rmtree(self.work / "warm")
        walk, full, cpu, server_cpu = Runs(), Runs(), Runs(), Runs()
        steps: list[dict[str, float]] = []
        walked_bytes = 0
        db = self.work / "full" / "w.duckdb"
        for i in range(self.o.repeat):  # interleaved, so drift in load hits both alike
            self.log(f"bare walk {i + 1}/{self.o.repeat} ({len(targets)} requests)")
            seconds, walked_bytes = bare_walk(origin, targets, token)
            walk.seconds.append(seconds)
            self.log(f"full extract {i + 1}/{self.o.repeat}")
            shutil.rmtree(db.parent, ignore_errors=True)
            child, sent = extract(db)
            full.seconds.append(child.payload["seconds"])
            cpu.seconds.append(child.cpu_seconds)
            server_cpu.seconds.append(child.server_cpu_seconds)
            steps.append(child.payload["steps"])
        self.results["walk"] = {**walk.as_dict(), "requests": len(targets), "bytes": walked_bytes}
        rows = child.payload["rows"]
        self.results["extract"] = {
            **full.as_dict(),
            "steps": median_steps(steps),
            "warm_up_seconds": warm.payload["seconds"],
            "requests": len(sent),
            "rows": rows,
            "rows_total": sum(rows.values()),
            "rows_per_second": {t: n / full.median for t, n in rows.items()},
            "peak_rss_bytes": max(warm.peak_rss, child.peak_rss),
            "ratio_to_walk": ratio(full.median, walk.median),
            # Where the walk's floor comes from: each side is one Python process, one core.
            "cpu_seconds": cpu.median,
            "sandbox_cpu_seconds": server_cpu.median,
        }
        if not extract_ratio_met(self.results):

            def from_scratch(out: Path) -> object:
                shutil.rmtree(self.work / "prof", ignore_errors=True)  # a failed try leaves rows
                return extract(self.work / "prof" / "w.duckdb", out)

            self.profiled("extract", from_scratch, sampled=True)
        return db

    def reruns(
        self,
        db: Path,
        extract: Extract,
        restore: Path | None,
    ) -> dict[str, Any]:
        """Extract again into `db` (restored from `restore` first, when given) `repeat` times."""
        runs = Runs()
        steps: list[dict[str, float]] = []
        kind = "one-day" if restore else "no-change"
        for i in range(self.o.repeat):
            if restore is not None:
                shutil.rmtree(db.parent)
                shutil.copytree(restore, db.parent)
            self.log(f"{kind} rerun {i + 1}/{self.o.repeat}")
            child, targets = extract(db)
            runs.seconds.append(child.payload["seconds"])
            steps.append(child.payload["steps"])
        full = self.results["extract"]["seconds"]
        return {
            **runs.as_dict(),
            "steps": median_steps(steps),
            **request_breakdown(targets),
            "rows": child.payload["rows"],
            "ratio_to_extract": ratio(runs.median, full),
        }

    # -- transforms, against a bare scan --------------------------------------------------------
    def transforms(self, db: Path) -> None:
        import duckdb

        from extract.bank import load_bank_statements
        from transforms.build import build_all
        from transforms.config import LedgerConfig

        config = LedgerConfig.load()
        key = config.require_pii_key(using_sandbox=True)
        con = duckdb.connect(str(db))
        try:
            load_bank_statements(con, self.work / "bank")
            total, scan, floor = Runs(), Runs(), Runs()
            per_model: dict[str, list[float]] = {}
            for i in range(self.o.repeat):
                self.log(f"transforms {i + 1}/{self.o.repeat}")
                with stopwatch(total):
                    built = build_all(con, config, key)
                for b in built:
                    per_model.setdefault(f"{b.model.schema}.{b.model.name}", []).append(b.seconds)
                with stopwatch(scan):
                    con.execute(BARE_SCAN).fetchall()
                # What writing that many tables costs with no data at all: the floor under the
                # sum of the models, whatever their SQL.
                con.execute("create schema if not exists bench_floor")
                with stopwatch(floor):
                    for n in range(len(built)):
                        con.execute(f"create or replace table bench_floor.t{n} as select 1 as x")
                con.execute("drop schema bench_floor cascade")
            ledger_rows = con.execute("select count(*) from mollie.balance_transactions").fetchone()
        finally:
            con.close()
        models = {name: statistics.median(s) for name, s in per_model.items()}
        self.results["transforms"] = {
            **total.as_dict(),
            "models": dict(sorted(models.items(), key=lambda kv: kv[1], reverse=True)),
            "scan_seconds": scan.median,
            "scan_runs": [round(s, 4) for s in scan.seconds],
            "floor_seconds": floor.median,
            "balance_transactions": ledger_rows[0],
            "ratio_to_scan": ratio(total.median, scan.median),
        }

    # -- gates ----------------------------------------------------------------------------------
    def gates(self, db: Path) -> None:
        import duckdb

        try:
            from quality.runner import check_table, get_runner
            from quality.suites import read_all
        except ImportError as exc:  # quality/ is still being built: report, do not fail
            self.results["gates"] = {"status": "not measured", "reason": f"{exc}"}
            return
        self.log("GX import time (fresh interpreter)")
        gx_import_seconds(self.env())  # untimed: fills the bytecode cache, as any first run
        imports = Runs([gx_import_seconds(self.env()) for _ in range(self.o.repeat)])
        docs = self.work / "quality-docs"
        runs = Runs()
        try:
            setup = Runs()
            with stopwatch(setup):  # imports GX in this process and builds its context once
                get_runner(docs)
            suites = read_all()
            con = duckdb.connect(str(db))
            try:
                for i in range(self.o.repeat):
                    self.log(f"gates {i + 1}/{self.o.repeat} ({len(suites)} suites)")
                    with stopwatch(runs):
                        results = [check_table(con, s, docs_dir=docs) for s in suites]
            finally:
                con.close()
        except Exception as exc:  # the runner is in progress elsewhere; measure what we can
            self.results["gates"] = {
                "status": "not measured",
                "reason": f"{type(exc).__name__}: {exc}"[:500],
                "import_seconds": imports.median,
            }
            return
        self.results["gates"] = {
            "status": "measured",
            **runs.as_dict(),
            "import_seconds": imports.median,
            "import_runs": [round(s, 3) for s in imports.seconds],
            "setup_seconds": setup.median,
            "suites": len(suites),
            "suites_failed": sum(1 for r in results if not r.success),
            "failed": [
                f"{s.schema}.{s.table}"
                for s, r in zip(suites, results, strict=True)
                if not r.success
            ],
        }

    # -- exports --------------------------------------------------------------------------------
    def exports(self, db: Path) -> None:
        import duckdb

        from export.csv_export import export_csv
        from export.frappe_client import FrappeClient
        from export.posting import post_entries
        from export.settings import FrappeSettings, company_currency
        from sandbox.frappe import FrappeTestServer

        csv, post = Runs(), Runs()
        con = duckdb.connect(str(db))
        try:
            for i in range(self.o.repeat):
                self.log(f"CSV export {i + 1}/{self.o.repeat}")
                with stopwatch(csv):
                    written = export_csv(con, self.work / "exports")
        finally:
            con.close()
        currency = company_currency(None, {})
        counts: dict[str, int] = {}
        for i in range(self.o.repeat):
            # A fresh outbox and a fresh Frappe each time: posting is exactly-once by design.
            copy = self.work / f"post-{i}.duckdb"
            shutil.copy(db, copy)
            self.log(f"posting to the Frappe test server {i + 1}/{self.o.repeat}")
            with FrappeTestServer() as frappe:
                settings = FrappeSettings(
                    url=frappe.url, api_key=frappe.api_key, api_secret=frappe.api_secret
                )
                with (
                    FrappeClient(settings) as client,
                    contextlib.closing(duckdb.connect(str(copy))) as con,
                ):
                    with stopwatch(post):
                        report = post_entries(con, client, company_currency=currency)
                    counts = report.counts()
            copy.unlink()
        self.results["exports"] = {
            "csv_seconds": csv.median,
            "csv_runs": [round(s, 4) for s in csv.seconds],
            "csv_files": len(written.files),
            "csv_rows": written.rows,
            "post_seconds": post.median,
            "post_runs": [round(s, 4) for s in post.seconds],
            "posted": counts.get("posted", 0),
            "post_counts": counts,
        }

    # -- peak memory of a 1 M-row load ----------------------------------------------------------
    def memory(self) -> None:
        """One untimed extract of a world sized to load `rss_rows` rows, for its peak RSS.

        The timed scale loads fewer rows (100 k payments: ~0.3 M); the memory target is for
        1 M. Sized from the full extract's rows per payment, with 5 % to spare (worlds vary).
        """
        from sandbox.generate import SandboxConfig
        from sandbox.server import SandboxServer

        ex = self.results["extract"]
        if not self.o.rss_rows or ex["rows_total"] >= self.o.rss_rows:
            return  # nothing to add: the timed extract was at least that large
        payments = math.ceil(self.o.rss_rows * self.o.scale / ex["rows_total"] * 1.05)
        config = SandboxConfig.from_cli(
            seed=SANDBOX_SEED, payments=payments, days=SANDBOX_DAYS, now=SANDBOX_NOW
        )
        self.log(f"memory: one extract of ~{payments:,} payments (~{self.o.rss_rows:,} rows)")
        with SandboxServer(config) as server:
            db = self.work / "memory" / "w.duckdb"
            child = extract_child(db, self.sandbox_env(server.base_url))
        shutil.rmtree(db.parent, ignore_errors=True)
        self.results["memory"] = {
            "payments": payments,
            "rows_total": sum(child.payload["rows"].values()),
            "peak_rss_bytes": child.peak_rss,
            "seconds": child.payload["seconds"],
            "steps": child.payload["steps"],
        }

    # -- make demo --------------------------------------------------------------------------------
    def demo(self) -> None:
        runs, exit_codes = Runs(), []
        for i in range(self.o.repeat):
            self.log(
                f"mollie-ledger demo {i + 1}/{self.o.repeat} ({self.o.demo_payments} payments)"
            )
            # Timed whatever its exit code: a failed step (exit 1) still ran end to end.
            child = run_child(self._demo_args(self.work / f"demo-{i}"), self.env(), check=False)
            runs.seconds.append(child.wall_seconds)
            exit_codes.append(child.returncode)
            shutil.rmtree(self.work / f"demo-{i}", ignore_errors=True)
        self.results["demo"] = {
            **runs.as_dict(),
            "payments": self.o.demo_payments,
            "default_scale": self.o.demo_payments == SANDBOX_PAYMENTS,
            "peak_rss_bytes": child.peak_rss,
            "exit_codes": exit_codes,
        }
        if not demo_met(self.results):
            self.profiled(
                "demo",
                lambda out: run_child(
                    [
                        "-m",
                        "cProfile",
                        "-o",
                        str(out),
                        *self._demo_args(self.work / "demo-prof"),
                    ],
                    self.env(),
                    check=False,
                ),
            )

    def _demo_args(self, folder: Path) -> list[str]:
        # `make demo` is `uv run mollie-ledger demo` after `uv sync`: the command itself.
        return [
            "-m",
            "cli.main",
            "demo",
            "--folder",
            str(folder),
            "--payments",
            str(self.o.demo_payments),
        ]


# -- the whole run ------------------------------------------------------------------------------


def run_bench(options: BenchOptions, workdir: Path | None = None) -> dict[str, Any]:
    """Measure every stage; returns the results (bench.report writes them)."""
    own = workdir is None
    work = Path(tempfile.mkdtemp(prefix="mollie-bench-")) if own else workdir
    assert work is not None
    bench = Bench(options, work)
    r = bench.results
    r["meta"] = {
        "scale": options.scale,
        "repeat": options.repeat,
        "note": options.note,
        "started_at": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "load_average_before": load_average(),
        # Children always cache bytecode (see child_env); this says whether the shell did not.
        "shell_dont_write_bytecode": bool(os.environ.get("PYTHONDONTWRITEBYTECODE")),
        "machine": machine(),
    }
    started = time.perf_counter()
    try:
        db = bench.extract_stages()
        bench.transforms(db)
        if options.profile and not (r["transforms"]["ratio_to_scan"] or 0) <= 5:
            # SQL, not Python: the slowest models are the profile.
            slowest = list(r["transforms"]["models"].items())[:5]
            r["profiles"]["transforms"] = {"kind": "models", "top": slowest}
        bench.gates(db)
        bench.exports(db)
        bench.demo()
        bench.memory()
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)
    r["meta"]["load_average_after"] = load_average()
    r["meta"]["bench_seconds"] = time.perf_counter() - started
    r["targets"] = targets(r)
    return r
