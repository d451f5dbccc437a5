"""Write docs/reliability.md from a run of the reliability suite: `uv run python
tests/reliability/write_report.py` (runs `pytest tests/reliability`, the slow part included).

Every figure in the document is what the tests measured in that run (conftest.Measured); the
text around them only says where each comes from. Nothing is written when a test fails.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "docs" / "reliability.md"

INTRO = """\
# Reliability and security: what was tried, what was lost

`tests/reliability/` attacks the whole pipeline end to end: a flaky Mollie, runs killed with
SIGKILL, two runs at once, malformed answers from Mollie, user mistakes on the command line,
leaked secrets and personal data, and abuse of the webhook receiver. `make test` runs it (the
slow part is marked `slow`; CI runs that too). Every row below was measured by the suite in the
run stated under the table; "lost" counts records (or entries) that should be in the warehouse
(or in Frappe) and are not, "duplicated" those that are there more than once. The suite fails if
either is not 0, or if the warehouse differs from a clean run's in any table's row count or
exact Decimal sum.

Regenerate: `uv run python tests/reliability/write_report.py`.
"""

AREAS = {
    "faults": "Faults (sandbox FaultConfig; extract, bank statements, every model)",
    "crashes": "Crashes (`mollie-ledger run` killed with SIGKILL at seeded points, then rerun)",
    "concurrency": "Concurrency",
    "bad input from Mollie": "Bad input from Mollie (a proxy rewrites the sandbox's answers)",
    "bad input from users": "Bad input from users (the CLI)",
    "secrets": "Secrets (a recognisable token and PII key through every stage)",
    "privacy": "Personal data",
    "webhooks": "Webhook receiver (127.0.0.1, bounded)",
}

FIXES = """\
## What the suite made us fix

- Nothing kept two runs off one warehouse (their steps would interleave in one dlt working
  folder, failing on DuckDB's raw lock error); now a run, an extract and an erasure hold the
  warehouse (`extract/warehouse_lock.py`) and a second one is refused at once with what to
  do. An unusable ledger configuration or warehouse path is refused before anything is read
  from Mollie.
- A run killed mid-step kept Dagster's one-slot DuckDB pool claimed: with a persistent
  DAGSTER_HOME every later run waited for ever, silently (`orchestration/stale_runs.py`).
- A profile API key was retried by the extract step's retry policy (after 1, 2 and 4 minutes)
  before `mollie-ledger run` failed; a credential error is now final at once.
- A huge bad value went whole into the quarantine reason and the log line (now cut at 500
  characters; the raw JSON keeps it, cut at 100 000).
- A settlement sub-list item in another currency loaded silently; it is now quarantined, and
  the settlement shows as a mismatch instead of looking complete.
- Retry and breaker messages said "200 on GET …" for a broken body; they now say what was wrong.
- `mollie-ledger erase-customer` did not exist.
"""

LIMITS = """\
## Known limits

- Erasure matches later loads by customer id: a payment without a customer link that carries an
  erased person's name is blanked by `erase-customer` (matched by value) but would come back if
  Mollie served it again; run `erase-customer` again then (it is idempotent).
- dlt's archive of loaded files is off (`LOAD__DELETE_COMPLETED_JOBS`, set by
  `extract/pipeline.py` wherever a command runs); `erase-customer` also deletes any archive it
  finds beside the warehouse.
- An entry Frappe refuses (an account missing in its chart) waits in `export.review` with
  Frappe's message; `mollie-ledger export` still exits 0, by design (nothing failed to post).
- Two runs on one warehouse: the second is refused, it does not queue. `mollie-ledger export`
  and the runs Dagster's daemon launches (the schedule) do not take the warehouse lock; the
  daemon's runs of one organization queue among themselves (dagster.yaml allows one run per
  organization at a time).
"""


def run_suite(results: Path) -> tuple[int, str, float]:
    env = {**os.environ, "RELIABILITY_RESULTS": str(results)}
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/reliability", "-q", "-p", "no:cacheprovider"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    return proc.returncode, proc.stdout + proc.stderr, time.monotonic() - started


def render(rows: list[dict], summary: str, seconds: float) -> str:
    by_area: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_area[row["area"]].append(row)
    lines = [INTRO]
    for area, title in AREAS.items():
        if area not in by_area:
            continue
        lines += [
            f"## {title}",
            "",
            "| scenario | tried | lost | duplicated | result |",
            "|---|---:|---:|---:|---|",
        ]
        for r in sorted(by_area[area], key=lambda r: r["scenario"]):
            note = str(r["note"]).replace("|", "\\|")
            scenario = str(r["scenario"]).replace("|", "\\|")
            lines.append(
                f"| {scenario} | {r['tried']} | {r['lost']} | {r['duplicated']} | {note} |"
            )
        lines.append("")
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines += [
        f"Measured {when} on {platform.machine()} with {os.cpu_count()} CPUs: `pytest "
        f"tests/reliability`, {summary} ({seconds:.0f} s wall).",
        "",
        FIXES,
        LIMITS,
    ]
    return "\n".join(lines)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        results = Path(tmp) / "results.json"
        code, output, seconds = run_suite(results)
        if code != 0 or not results.exists():
            print(output)
            print("the suite failed: docs/reliability.md left as it was", file=sys.stderr)
            return 1
        rows = json.loads(results.read_text())
    summary = next(
        (line.strip() for line in reversed(output.splitlines()) if " passed" in line), ""
    ).strip("= ")
    OUT.write_text(render(rows, summary, seconds), encoding="utf-8")
    print(f"wrote {OUT.relative_to(REPO)}: {len(rows)} scenarios; {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
