"""What a user wants to know after a run, read from the warehouse: rows per mart, findings by
check, settlements and their bank match, journal entries; and the text the CLI prints of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb


@dataclass
class RunSummary:
    success: bool
    failures: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    tables: dict[str, int] = field(default_factory=dict)  # marts.* row counts
    findings: dict[tuple[str, str], int] = field(default_factory=dict)  # (check, severity) → n
    settlements: dict[str, int] = field(default_factory=dict)  # reconciliation status → n
    bank_matched: int = 0
    journal_entries: int = 0
    report: str | None = None  # the financial report's file, when this run wrote it


def summarise_warehouse(db: Path) -> RunSummary:
    """Counts a user wants after a run, read from the warehouse (read-only)."""
    summary = RunSummary(success=True)
    if not db.exists():
        return summary
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' "
            "order by table_name"
        ).fetchall()
        for (name,) in tables:
            summary.tables[name] = con.execute(f"select count(*) from marts.{name}").fetchone()[0]
        if "reconciliation_exceptions" in summary.tables:
            for check, severity, n in con.execute(
                "select check_name, severity, count(*) from marts.reconciliation_exceptions "
                "group by all order by 1"
            ).fetchall():
                summary.findings[(check, severity)] = n
        if "settlement_reconciliation" in summary.tables:
            summary.settlements = dict(
                con.execute(
                    "select status, count(*) from marts.settlement_reconciliation group by all"
                ).fetchall()
            )
            summary.bank_matched = con.execute(
                "select count(*) from marts.settlement_reconciliation "
                "where bank_matched_by is not null"
            ).fetchone()[0]
        summary.journal_entries = summary.tables.get("journal_entries", 0)
    finally:
        con.close()
    return summary


def format_summary(summary: RunSummary) -> str:
    """The text the CLI prints after a run."""
    lines = []
    if summary.tables:
        lines.append("Marts (rows):")
        lines += [f"  {name:<32}{n:>9}" for name, n in summary.tables.items()]
    if summary.settlements:
        parts = ", ".join(f"{n} {status}" for status, n in sorted(summary.settlements.items()))
        lines.append(f"Settlements: {parts}; {summary.bank_matched} matched to a bank deposit")
    if summary.findings:
        lines.append("Reconciliation findings:")
        lines += [
            f"  {check} ({severity}): {n}" for (check, severity), n in summary.findings.items()
        ]
    elif summary.tables:
        lines.append("Reconciliation findings: none")
    if summary.journal_entries:
        lines.append(f"Journal entries ready to post: {summary.journal_entries}")
    if summary.report:
        lines.append(f"Financial report: {summary.report}")
    if summary.failures:
        lines.append("FAILED:")
        lines += [f"  {f}" for f in summary.failures]
        if summary.skipped:
            lines.append(f"  {len(summary.skipped)} downstream step(s) skipped")
    return "\n".join(lines)
