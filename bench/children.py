"""The bench's child processes: each measured stage runs in its own process so its peak memory
(VmHWM) and CPU time are its own; profiles (py-spy across threads, else cProfile) of a child.

`python -m bench.children SPEC` is the extract child (`extract_child`).
"""

from __future__ import annotations

import cProfile
import json
import os
import pstats
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROFILE_TOP = 25
PYSPY_RATE = 100  # py-spy samples per second
_PYSPY_FRAME = re.compile(r"^(?P<name>.*) \((?P<file>.*?)(?::\d+)?\)$")  # "fn (path.py:12)"
DLT_STEPS = ("extract", "normalize", "load")  # where a run's time goes, from dlt's trace
# Variables that would point a child at something other than the sandbox and folders we give it.
FOREIGN_ENV = (
    "MOLLIE_ACCESS_TOKEN",
    "SOURCES__MOLLIE__ACCESS_TOKEN",
    "MOLLIE_LEDGER_DB",
    "MOLLIE_LEDGER_BANK_DIR",
    "MOLLIE_LEDGER_EXPORT_DIR",
    "DAGSTER_HOME",
    "FRAPPE_URL",
    "FRAPPE_API_KEY",
    "FRAPPE_API_SECRET",
    "MOLLIE_RATE_PER_SECOND",
)


@dataclass
class ChildResult:
    payload: dict[str, Any]  # what the child printed last, as JSON (its own timings and counts)
    wall_seconds: float
    peak_rss: int  # bytes, the child's own high-water mark (VmHWM, see `run_child`)
    returncode: int
    cpu_seconds: float = 0.0  # user + system, the child's own (wait4)
    server_cpu_seconds: float = 0.0  # this process's meanwhile: the sandbox serving the child


def child_env(pycache: Path, **extra: str) -> dict[str, str]:
    """The environment of a measured child process.

    Without the variables that would point it at another warehouse, Mollie or Frappe; and
    with bytecode cached as on any install, in the bench's own scratch folder: where
    PYTHONDONTWRITEBYTECODE is set (as in some sandboxed shells) every process would otherwise
    compile every module it imports, seconds for dagster and GX alone.
    """
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN_ENV}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    env.update(extra)
    return env


# Runs the child's real arguments (`-m module …` or `-c code …`) and, at exit, writes the
# process's VmHWM (peak RSS of its own address space, from /proc) to $MOLLIE_LEDGER_BENCH_HWM.
_HWM_BOOTSTRAP = """
import atexit, os, re, runpy, sys

def _write_hwm():
    status = open("/proc/self/status").read()
    kib = re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1)
    with open(os.environ["MOLLIE_LEDGER_BENCH_HWM"], "w") as out:
        out.write(kib)

atexit.register(_write_hwm)
flag, target, *rest = sys.argv[1:]
if flag == "-m":
    sys.argv = [target, *rest]
    runpy.run_module(target, run_name="__main__", alter_sys=True)
else:
    sys.argv = ["-c", *rest]
    exec(compile(target, "<string>", "exec"), {"__name__": "__main__"})
"""


def run_child(
    args: list[str], env: dict[str, str], check: bool = True, wrapper: Sequence[str] = ()
) -> ChildResult:
    """Run `python <args>` (`-m module …` or `-c code …`); its last JSON line is the payload.
    With `check`, raise on exit ≠ 0. `wrapper` runs it under another command (py-spy).

    The peak RSS is the child's VmHWM, which it writes at exit. Not `wait4`'s ru_maxrss: Linux
    keeps ru_maxrss across exec, so a child of this process (which holds the sandbox's world)
    reported this process's RSS when that was larger, 1.5 GiB for a 0.9 GiB extract at 1 M.
    """
    if args[0] not in ("-m", "-c"):
        raise ValueError(f"run_child takes -m module or -c code, not {args[0]!r}")
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.TemporaryDirectory() as scratch,
    ):
        hwm_file = Path(scratch) / "hwm"
        started = time.perf_counter()
        proc = subprocess.Popen(
            [*wrapper, sys.executable, "-c", _HWM_BOOTSTRAP, *args],
            stdout=out,
            stderr=err,
            env={**env, "MOLLIE_LEDGER_BENCH_HWM": str(hwm_file)},
        )
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        lines = out.read().decode(errors="replace").strip().splitlines()
        if check and proc.returncode != 0:
            tail = err.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"{' '.join(args[:4])} exited {proc.returncode}:\n{tail}")
        # Killed before its atexit ran: only wait4's figure is left, an upper bound.
        peak_kib = int(hwm_file.read_text()) if hwm_file.exists() else usage.ru_maxrss
    # The child's last JSON line: a wrapper (py-spy) may print after it.
    last = next((line for line in reversed(lines) if line.startswith("{")), None)
    payload = json.loads(last) if last else {}
    cpu = usage.ru_utime + usage.ru_stime
    return ChildResult(payload, wall, peak_kib * 1024, proc.returncode, cpu)


def extract_child(db: Path, env: dict[str, str], profile: Path | None = None) -> ChildResult:
    """One extract in a child; profiled into `profile` when given: sampled by py-spy for a
    `.pyspy` file, else under cProfile."""
    sampled = profile is not None and profile.suffix == ".pyspy"
    spec = {"db": str(db), "profile": str(profile) if profile and not sampled else None}
    wrapper = pyspy_record(profile) if sampled and profile else ()
    return run_child(["-m", "bench.children", json.dumps(spec)], env, wrapper=wrapper)


def pyspy() -> str | None:
    """The py-spy executable beside this Python (the dev group installs it), or on PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def pyspy_record(out: Path) -> list[str]:
    """py-spy sampling what it starts, every thread, only while holding the GIL: in a Python
    process that is where its one core goes (native work with the GIL released is not seen)."""
    exe = pyspy()
    if exe is None:
        raise RuntimeError("py-spy is not installed (uv sync installs it with the dev group)")
    return [
        exe, "record", "--gil", "--nonblocking", "--rate", str(PYSPY_RATE),
        "--format", "raw", "--output", str(out), "--",
    ]  # fmt: skip


def top_sampled(raw: Path, n: int = PROFILE_TOP) -> list[dict[str, Any]]:
    """The `n` functions with the most samples of their own in py-spy's raw output (one line per
    stack: `frame;frame;… count`), in seconds of the one core; lines of a function are summed."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        functions = [_sampled_function(frame) for frame in stack.split(";")]
        own[functions[-1]] += int(count)
        for function in set(functions):
            total[function] += int(count)
    if not own:
        raise ValueError(f"py-spy wrote no samples to {raw}")
    return [
        {
            "function": function,
            "calls": None,  # sampling does not count calls
            "tottime": round(samples / PYSPY_RATE, 3),
            "cumtime": round(total[function] / PYSPY_RATE, 3),
        }
        for function, samples in own.most_common(n)
    ]


def _sampled_function(frame: str) -> str:
    match = _PYSPY_FRAME.match(frame)
    if not match:
        return frame
    return f"{_short(match['file'])}({match['name']})"


def _child_main(spec: dict[str, Any]) -> None:
    """In the child: one `run_extract` from MOLLIE_API_BASE_URL, timed after the imports."""
    from extract.pipeline import run_extract
    from extract.settings import ClientSettings

    settings = ClientSettings.from_env()
    profiler = cProfile.Profile() if spec.get("profile") else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    result = run_extract(spec["db"], settings=settings)
    if profiler:
        profiler.disable()
        profiler.dump_stats(spec["profile"])
    seconds = time.perf_counter() - started
    trace = result.load_info.pipeline.last_trace
    steps = {
        s.step: (s.finished_at - s.started_at).total_seconds()
        for s in (trace.steps if trace else [])
        if s.step in DLT_STEPS and s.finished_at
    }
    payload = {"seconds": seconds, "steps": steps, "rows": result.rows, "pages": result.pages}
    print(json.dumps(payload))  # noqa: T201


def top_functions(stats_file: Path, n: int = PROFILE_TOP) -> list[dict[str, Any]]:
    """The `n` functions with the most cumulative time in a cProfile dump."""
    stats = pstats.Stats(str(stats_file))
    rows = []
    for (filename, line, name), (_, calls, tottime, cumtime, _) in stats.stats.items():  # type: ignore[attr-defined]
        where = f"{_short(filename)}:{line}({name})" if line else name
        rows.append({"function": where, "calls": calls, "tottime": tottime, "cumtime": cumtime})
    rows.sort(key=lambda r: r["cumtime"], reverse=True)
    return [
        {**r, "tottime": round(r["tottime"], 3), "cumtime": round(r["cumtime"], 3)}
        for r in rows[:n]
    ]


def _short(filename: str) -> str:
    for marker in ("site-packages/", "/lib/python3."):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return os.path.relpath(filename) if filename.startswith("/") else filename


if __name__ == "__main__":  # the extract child of `extract_child`
    _child_main(json.loads(sys.argv[1]))
