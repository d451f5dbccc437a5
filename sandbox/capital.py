"""Mollie Capital: a business loan paid onto the balance and repaid out of incoming payments.

Opt-in (`SandboxConfig.capital`, on in `--every-type` worlds): an association rarely borrows,
and a loan changes every payout of the months it runs. The loan lands as a `loan` row (+)
five days into the world; from then on Mollie withholds a share of every EUR payment and
capture as `deductionDetails.repayments` until the loan and its fixed fee are repaid. If
anything is still owed 90 days after the loan, the rest is taken from the balance at once as a
`repayment` row (−).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sandbox.clock import DAY, local_at, local_date
from sandbox.money import percent_of, round_units, units

if TYPE_CHECKING:
    from sandbox.ledger import Ledger

LOAN = units("2500.00")
LOAN_FEE = units("150.00")  # Mollie Capital's fixed fee, repaid with the loan
REPAYMENT_PERCENT = "10"
TERM_DAYS = 90


def add(ledger: Ledger) -> None:
    c, eur = ledger.g.c, ledger.balances[0]
    at = local_at(local_date(c.start + 5 * DAY), 9)
    ledger.row("capital:loan", eur, "loan", at, at, LOAN)
    owed = LOAN + LOAN_FEE
    due = at + TERM_DAYS * DAY
    incoming = sorted(
        (
            r
            for r in ledger.rows
            if r.balance_id == eur.id and r.type in ("payment", "capture") and at < r.created_at
        ),
        key=lambda r: (r.created_at, r.id),
    )
    for r in incoming:
        if owed <= 0 or r.created_at >= due:
            break
        part = min(owed, round_units(percent_of(r.initial, REPAYMENT_PERCENT), 2))
        if part > 0 and r.result - part > 0:
            r.withhold("repayments", part)
            owed -= part
    if owed > 0:
        ledger.row("capital:repayment", eur, "repayment", due, due, -owed)
