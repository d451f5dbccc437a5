"""`mollie-ledger erase-customer cst_…`: erase one customer's personal data, keep the books.

The raw values are blanked by `extract.erasure` (which also keeps them blank on later loads);
then every model is rebuilt, so the staging pseudonyms of the erased values disappear too, and
the result is checked: the books must come out exactly as before (no new reconciliation
findings, every journal entry balanced). Last, the warehouse file is rewritten: DuckDB leaves an
updated value's old bytes in freed blocks of the file until they are reused, so without the
rewrite the erased name would still be readable from the file itself. dlt's archived copies of
loaded rows are deleted as well.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from extract.erasure import ErasureReport, erase_customer, remove_load_archives
from extract.warehouse_lock import WarehouseError, exclusive_warehouse
from transforms.build import build_all
from transforms.config import LedgerConfig

Finding = tuple[str, str, str]  # (check_name, object_type, object_id)


@dataclass
class ErasureOutcome:
    erasure: ErasureReport
    new_findings: list[Finding] = field(default_factory=list)
    unbalanced_entries: list[str] = field(default_factory=list)
    models_rebuilt: int = 0

    @property
    def books_intact(self) -> bool:
        return not self.new_findings and not self.unbalanced_entries


def erase_and_rebuild(
    db: str | os.PathLike[str], customer_id: str, config: LedgerConfig, pii_key: str
) -> ErasureOutcome:
    """Erase `customer_id` in the warehouse `db`, rebuild the models, check, compact the file.

    Raises:
        ErasureError: not a customer id.
        WarehouseError: the warehouse is missing, busy or not writable.
    """
    path = Path(db)
    with exclusive_warehouse(path):
        if not path.exists():
            raise WarehouseError(f"no warehouse at {path}: nothing to erase")
        con = duckdb.connect(str(path))
        try:
            before = _findings(con)
            report = erase_customer(con, customer_id)
            built = build_all(con, config, pii_key)
            outcome = ErasureOutcome(report, models_rebuilt=len(built))
            outcome.new_findings = sorted(_findings(con) - before)
            outcome.unbalanced_entries = _unbalanced(con)
        finally:
            con.close()
        _compact(path)
        report.archives_removed = remove_load_archives(path)
    return outcome


def _findings(con: duckdb.DuckDBPyConnection) -> set[Finding]:
    if not _has_table(con, "marts", "reconciliation_exceptions"):
        return set()
    return set(
        con.execute(
            "select check_name, object_type, object_id from marts.reconciliation_exceptions"
        ).fetchall()
    )


def _unbalanced(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [
        key
        for (key,) in con.execute(
            "select posting_key from marts.journal_entry_lines group by posting_key "
            "having sum(debit) <> sum(credit) order by 1"
        ).fetchall()
    ]


def _has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchone()[0]
    )


def _compact(path: Path) -> None:
    """Rewrite the DuckDB file so no freed block keeps an erased value, then swap it in."""
    fresh = path.with_name(path.name + ".compact")
    fresh.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    try:
        con.execute(f"attach '{_quoted(fresh)}' as compacted")
        con.execute(f"copy from database {_catalog(con)} to compacted")
        con.execute("detach compacted")
    finally:
        con.close()
    os.replace(fresh, path)


def _catalog(con: duckdb.DuckDBPyConnection) -> str:
    name = con.execute("select current_database()").fetchone()[0]
    return '"' + name.replace('"', '""') + '"'


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")


def format_outcome(outcome: ErasureOutcome) -> str:
    """What the CLI prints after an erasure."""
    report = outcome.erasure
    changed = ", ".join(f"{table} {n}" for table, n in report.rows.items() if n) or "none"
    if report.found:
        head = f"Erased {report.customer_id}: rows blanked: {changed}."
    elif report.already_listed:
        head = f"{report.customer_id} was erased before; nothing personal was left."
    else:
        head = (
            f"{report.customer_id} has no personal data in this warehouse; it is on the erase "
            "list now, so a later extract keeps it blank."
        )
    lines = [
        head,
        f"Archived dlt load files removed: {report.archives_removed}; warehouse file rewritten.",
        f"Models rebuilt: {outcome.models_rebuilt}.",
    ]
    if outcome.books_intact:
        lines.append("Books unchanged: no new reconciliation findings, every entry balanced.")
    else:
        lines += [f"NEW FINDING {c} {t} {o}" for c, t, o in outcome.new_findings]
        lines += [f"UNBALANCED ENTRY {key}" for key in outcome.unbalanced_entries]
    return "\n".join(lines)
