"""The export-ready journal entries, read from the marts (docs/accounting.md).

`marts.journal_entries` / `marts.journal_entry_lines` hold every balanced entry the SQL models
built and did not hold; this module turns their rows into typed objects (amounts stay `Decimal`,
as DuckDB gives them), lists the entries the models hold (`marts.journal_entry_status`, with the
reason) and the settlements that do not reconcile.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import duckdb


@dataclass(frozen=True)
class JournalLine:
    line_no: int
    role: str
    account: str | None
    currency: str
    debit: Decimal
    credit: Decimal
    cost_center: str | None  # set by the models on profit-and-loss roles only
    party_type: str | None = None  # [books.parties]: ERPNext needs one on Receivable/Payable
    party: str | None = None


@dataclass(frozen=True)
class JournalEntry:
    posting_key: str
    entry_type: str  # day | payout | payout_return | fee_vat
    source_id: str
    voucher_type: str
    posting_date: date
    cheque_no: str | None
    cheque_date: date | None
    company: str
    currency: str
    user_remark: str | None
    lines: tuple[JournalLine, ...]


@dataclass(frozen=True)
class HeldEntry:
    posting_key: str
    entry_type: str
    source_id: str
    reason: str


# Posting keys of the per-settlement model this one replaced (entries that booked a settlement's
# receipts and fees straight against Bank on its payout date); see export/README.md, Migrating.
LEGACY_KEY_PREFIX = "mollie-settlement-"

HELD_ENTRIES_SQL = """
select posting_key, entry_type, source_id, hold_reason as reason
from marts.journal_entry_status
where hold_reason is not null
"""


@dataclass(frozen=True)
class SettlementInReview:
    settlement_id: str
    reason: str


# Why a settlement is `mismatch` (see marts/settlement_reconciliation.sql for the rule), spelled
# out from its own columns. Shared by the export.review view and the dry run.
MISMATCHED_SETTLEMENTS_SQL = """
select
    settlement_id,
    'settlement does not reconcile: ' || concat_ws('; ',
        case when payout_amount is null then 'no payout (outgoing-transfer) row in the ledger' end,
        case when has_membership_finding then 'a ledger row is claimed by another settlement' end,
        case when difference_ledger <> 0 then 'amount ' || amount || ' vs ledger net '
            || ledger_net || ' (difference ' || difference_ledger || ')' end,
        case when coalesce(difference_periods, 0) <> 0 then 'amount ' || amount
            || ' vs periods total ' || periods_total || ' (difference ' || difference_periods
            || ')' end,
        case when difference_payout <> 0 then 'amount ' || amount || ' vs payout '
            || payout_amount || ' (difference ' || difference_payout || ')' end
    ) as reason
from marts.settlement_reconciliation
where status = 'mismatch'
"""


def load_entries(con: duckdb.DuckDBPyConnection) -> list[JournalEntry]:
    """Every entry of marts.journal_entries with its lines, by posting date then key."""
    lines: dict[str, list[JournalLine]] = {}
    for key, *fields in con.execute(
        "select posting_key, line_no, role, account, currency, debit, credit, cost_center, "
        "party_type, party from marts.journal_entry_lines order by posting_key, line_no"
    ).fetchall():
        lines.setdefault(key, []).append(JournalLine(*fields))
    rows = con.execute(
        "select posting_key, entry_type, source_id, voucher_type, posting_date, cheque_no, "
        "cheque_date, company, currency, user_remark "
        "from marts.journal_entries order by posting_date, posting_key"
    ).fetchall()
    return [JournalEntry(*row, lines=tuple(lines.get(row[0], ()))) for row in rows]


def mismatched_settlements(con: duckdb.DuckDBPyConnection) -> list[SettlementInReview]:
    rows = con.execute(MISMATCHED_SETTLEMENTS_SQL + " order by settlement_id").fetchall()
    return [SettlementInReview(*row) for row in rows]


def held_entries(con: duckdb.DuckDBPyConnection) -> list[HeldEntry]:
    rows = con.execute(HELD_ENTRIES_SQL + " order by posting_date, posting_key").fetchall()
    return [HeldEntry(*row) for row in rows]
