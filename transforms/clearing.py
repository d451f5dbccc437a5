"""The clearing identity in numbers: days checked, days off (marts.clearing_reconciliation).

At the end of every reported day the journal's clearing account must hold Mollie's balance
(pending + available). This module reads how many days were checked and how many were off, for
`mollie-ledger demo` and anyone else who wants the one line a treasurer looks at first.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import duckdb

TABLE = "marts.clearing_reconciliation"


@dataclass(frozen=True)
class ClearingIdentity:
    balances: int
    days_checked: int
    days_off: int  # a finding each (check clearing_balance in marts.reconciliation_exceptions)
    days_held: int  # off only by entries that are held, each reported where it is held
    first_off: tuple[str, ...] = ()  # "bal_…/YYYY-MM-DD", the earliest few

    @property
    def holds(self) -> bool:
        return self.days_checked > 0 and self.days_off == 0 and self.days_held == 0


def clearing_identity(con: duckdb.DuckDBPyConnection, show: int = 3) -> ClearingIdentity:
    balances, checked, off, held = con.execute(
        f"select count(distinct balance_id), count(*), count(*) filter (where status = 'off'), "
        f"count(*) filter (where status = 'held') from {TABLE}"
    ).fetchone()
    first = con.execute(
        f"select balance_id || '/' || strftime(report_date, '%Y-%m-%d') from {TABLE} "
        "where status = 'off' order by report_date, balance_id limit ?",
        [show],
    ).fetchall()
    return ClearingIdentity(balances, checked, off, held, tuple(r[0] for r in first))


def format_clearing_identity(identity: ClearingIdentity) -> str:
    line = (
        f"Clearing identity (clearing account = Mollie balance at each day's end): "
        f"{identity.days_checked} days checked over {identity.balances} balance(s), "
        f"{identity.days_off} off"
    )
    if identity.days_held:
        line += f", {identity.days_held} off only by held entries"
    if identity.first_off:
        line += f" (first: {', '.join(identity.first_off)}; see {TABLE})"
    return line


def clearing_identity_line(db: str | os.PathLike[str]) -> str:
    """The formatted identity of the warehouse at `db` (opened read-only)."""
    try:
        with duckdb.connect(str(db), read_only=True) as con:
            return format_clearing_identity(clearing_identity(con))
    except duckdb.Error as exc:
        return f"Clearing identity: not available ({exc})"
