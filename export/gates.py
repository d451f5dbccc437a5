"""The quality gates in front of a standalone export (`mollie-ledger export`).

Inside a Dagster run the blocking asset checks stop exports on their own. A standalone export
runs from what is already in the warehouse, so it reads the gate results the quality checks
append to `quality.gate_results` (quality.gate_results) and refuses when:
- no gate has run yet (the table is empty): the data was never checked;
- the latest result of any check failed with severity ERROR.
A failed WARN check does not block (it is reported).
"""

from __future__ import annotations

import duckdb

from quality.gate_results import GATE_TABLE, GateResult, latest_results


class GateRefusal(RuntimeError):
    """The export must not run: the message says why and what to do."""


def require_gates_passed(con: duckdb.DuckDBPyConnection) -> list[GateResult]:
    """The latest results, or GateRefusal when the export must not run."""
    results = latest_results(con)
    if not results:
        raise GateRefusal(
            f"no quality gate has run on this warehouse yet ({GATE_TABLE} is empty), so the "
            "data is unchecked: run `mollie-ledger run` first, then export"
        )
    blocking = [r for r in results if r.blocks]
    if blocking:
        listed = "\n  ".join(str(r) for r in blocking)
        raise GateRefusal(
            f"export refused: {len(blocking)} quality gate(s) failed with severity ERROR in "
            f"their latest run:\n  {listed}\nNothing was written or posted. Fix the data (see "
            "marts.reconciliation_exceptions and the Data Docs), then `mollie-ledger run` again."
        )
    return results
