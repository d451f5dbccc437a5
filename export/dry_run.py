"""Dry run: the exact Frappe payloads written to `<export dir>/frappe-dry-run/`, nothing posted.

One file per posting key holding the very bytes a real run would POST, plus `index.json`: for
every entry what a real run would do (`would_post`, `already_posted` per the outbox, or
`review` with the reason), the entries the models hold, the settlements that wait in review,
posted entries the models no longer produce, and entries of the per-settlement model a real run
would first need to see cancelled in Frappe. Nothing is sent and the warehouse is only read: no
outbox row, no audit row.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from export.atomic import write_atomic
from export.journal import held_entries, mismatched_settlements
from export.outbox import POSTED, latest_states
from export.posting import legacy_keys, plan, vanished_keys

DRY_RUN_DIR = "frappe-dry-run"
INDEX = "index.json"
WOULD_POST, ALREADY_POSTED, REVIEW = "would_post", "already_posted", "review"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True)
class DryRunReport:
    folder: Path
    index: Path
    counts: dict[str, int]


def payload_file_name(posting_key: str) -> str:
    return _UNSAFE.sub("_", posting_key) + ".json"


def write_dry_run(
    con: duckdb.DuckDBPyConnection, export_dir: Path, *, company_currency: str
) -> DryRunReport:
    folder = export_dir / DRY_RUN_DIR
    states = latest_states(con)
    entries: list[dict[str, Any]] = []
    written = {INDEX}
    for item in plan(con, company_currency):
        row: dict[str, Any] = {
            "posting_key": item.key,
            "entry_type": item.entry.entry_type,
            "source_id": item.entry.source_id,
        }
        if item.payload is None:
            assert item.problem is not None
            row.update(action=REVIEW, kind=item.problem.kind, reason=str(item.problem))
        else:
            name = payload_file_name(item.key)
            sha = write_atomic(folder / name, item.payload.body)
            written.add(name)
            latest = states.get(item.key)
            if latest is not None and latest.status == POSTED:
                row.update(action=ALREADY_POSTED, frappe_name=latest.frappe_name)
            else:
                row.update(action=WOULD_POST)
            row.update(file=name, sha256=sha)
        entries.append(row)
    settlements = [
        {"settlement_id": s.settlement_id, "reason": s.reason} for s in mismatched_settlements(con)
    ]
    held = [
        {"posting_key": h.posting_key, "entry_type": h.entry_type, "reason": h.reason}
        for h in held_entries(con)
    ]
    vanished = vanished_keys(states, (e["posting_key"] for e in entries))
    legacy = legacy_keys(con, states) if states else []
    counts = {
        a: sum(1 for e in entries if e["action"] == a) for a in (WOULD_POST, ALREADY_POSTED, REVIEW)
    }
    counts["settlements_in_review"] = len(settlements)
    counts["entries_held"] = len(held)
    counts["vanished_after_posting"] = len(vanished)
    counts["legacy_settlement_entries"] = len(legacy)
    index = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "note": "dry run: nothing was sent to Frappe and nothing was recorded as posted",
        "company_currency": company_currency,
        "counts": counts,
        "entries": entries,
        "settlements_in_review": settlements,
        "entries_held": held,
        "vanished_after_posting": vanished,
        # A real run first checks these are cancelled in Frappe, and stops while any stands.
        "legacy_settlement_entries": legacy,
    }
    text = json.dumps(index, indent=2, ensure_ascii=False) + "\n"
    index_path = folder / INDEX
    write_atomic(index_path, text.encode("utf-8"))
    # Payloads of entries that no longer exist would mislead a reader of the folder.
    for stale in folder.glob("*.json"):
        if stale.name not in written:
            stale.unlink()
    return DryRunReport(folder, index_path, counts)
