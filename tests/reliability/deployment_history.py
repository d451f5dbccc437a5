"""One deployment's life, played once per test session: runs killed -9 at seeded points, then the
recovery run started twice at the same moment.

A full `mollie-ledger run` costs a minute or two on a busy two-core machine, so the crash, the
concurrency and the secrets tests share this one history instead of running their own: each
reads what it needs (the kills and the warehouse they left; the two simultaneous runs; every
file, log and request the runs produced, all made with a recognisable token and PII key).

The kills, in pipeline order, each in a run resuming from what the previous one left:

    extract      a Mollie request answered (n-th of the run)
    load_commit  dlt loaded a package's files, before recording the load
    transform    a model rebuilt (n-th of the run), before Dagster records it
    posted       Frappe accepted an entry (n-th insert), before the outbox records it
    posted       again, in `mollie-ledger export` (the export stage alone: the gates of the
                 previous run passed), a later entry
    extract      during the next run's incremental extract

n comes from RELIABILITY_SEED (default fixed, so a failure replays; set it to explore).
"""

from __future__ import annotations

import os
import random
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from reliability_support import duplicate_keys, world
from run_harness import Deployment, finish

from sandbox.frappe import POSTING_KEY_FIELD, FrappeTestServer
from sandbox.server import SandboxServer

# Recognisable secrets: any byte of them found in a file or a log is a leak.
CANARY_TOKEN = "access_LEAKCANARYtok3n9f2c7a1e5b8d4"
CANARY_PII_KEY = "LEAKCANARYpiikey6d0b3e9a7c1f5"
DEFAULT_SEED = 20261101
ENV_SEED = "RELIABILITY_SEED"
MODELS = 37  # SQL models a run builds (transforms/)


@dataclass
class Kill:
    command: str
    point: str
    nth: int
    returncode: int
    stderr: str
    raw_duplicates: dict[str, int]
    frappe_duplicates: list[str]


@dataclass
class History:
    deployment: Deployment
    seed: int
    kills: list[Kill] = field(default_factory=list)
    together: list[subprocess.CompletedProcess[str]] = field(default_factory=list)
    frappe_keys: Counter[str] = field(default_factory=Counter)  # posting key → documents
    frappe_requests: list[str] = field(default_factory=list)  # every request, as text

    @property
    def outputs(self) -> list[str]:
        """Everything every process printed (stdout and stderr)."""
        return [k.stderr for k in self.kills] + [
            text for r in self.together for text in (r.stdout, r.stderr)
        ]


def plan(rng: random.Random, entries: int) -> list[tuple[str, str, int]]:
    """(command, point, n) of each kill; `entries` is how many entries a full run posts."""
    first_posts = rng.randint(1, max(1, entries // 2))
    return [
        ("run", "extract", rng.randint(10, 300)),
        ("run", "load_commit", 1),
        ("run", "transform", rng.randint(1, MODELS)),
        ("run", "posted", first_posts),
        ("export", "posted", rng.randint(1, max(1, entries - first_posts - 1))),
        ("run", "extract", rng.randint(3, 15)),  # an incremental extract sends ~25
    ]


def _posting_keys(frappe: FrappeTestServer) -> Counter[str]:
    return Counter(doc.get(POSTING_KEY_FIELD) for doc in frappe.journal_entries.values())


def live(root: Path, entries: int) -> History:
    """Play the history in `root` (see the module docstring)."""
    seed = int(os.environ.get(ENV_SEED) or DEFAULT_SEED)
    with (
        SandboxServer(world(), access_token=CANARY_TOKEN) as sandbox,
        FrappeTestServer() as frappe,
    ):
        deployment = Deployment(
            root, sandbox, frappe, pii_key=CANARY_PII_KEY, dagster_home=True
        ).prepare()
        history = History(deployment, seed)
        for command, point, nth in plan(random.Random(seed), entries):
            result = deployment.run(command, crash=f"{point}:{nth}")
            keys = _posting_keys(frappe)
            history.kills.append(
                Kill(
                    command,
                    point,
                    nth,
                    result.returncode,
                    result.stdout + result.stderr,
                    duplicate_keys(deployment.db) if deployment.db.exists() else {},
                    sorted(k for k, n in keys.items() if n > 1),
                )
            )
        # The recovery run, started twice at once: one must run, the other refuse or wait.
        started = [deployment.start("run"), deployment.start("run")]
        history.together = [finish(p, ("run",)) for p in started]
        history.frappe_keys = _posting_keys(frappe)
        history.frappe_requests = [repr(r) for r in frappe.requests]
    return history
