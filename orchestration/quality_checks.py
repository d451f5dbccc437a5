"""Quality gates as Dagster asset checks: one blocking check per expectation suite.

Each model's contract (transforms/<layer>/<table>.contract.json, beside its SQL) becomes
`@asset_check(blocking=True)` on its table's asset.
Dagster blocks downstream assets of the same run only for a failed check with ERROR severity,
so the severity carries the suite's meaning: an error-level expectation that fails (a duplicate
key, an unknown currency, a lost amount, a card number) fails the check with ERROR and stops
everything downstream, above all the exports; a warning-level one alone (an enum value Mollie
added, say) fails it with WARN, visible in the UI and metadata but not blocking.

Every evaluation is also appended to `quality.gate_results` (quality.gate_results): a standalone
`mollie-ledger export` runs outside Dagster and refuses unless the latest gates passed.

Neither Great Expectations nor pandas is imported here: `quality.runner` is imported by the first
check that runs and imports GX then (once per process), so loading the definitions stays fast.
"""

# No `from __future__ import annotations`: Dagster reads the `context` annotation at definition
# time and does not resolve string annotations.

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import dagster as dg
import duckdb

from orchestration.organizations import WAREHOUSE_POOL
from orchestration.transform_assets import EXTERNAL_SCHEMAS
from orchestration.warehouse import Warehouse
from quality.contracts import shown
from quality.docs import ENV_DOCS
from quality.frames import reads
from quality.gate_results import append_result
from quality.suites import Suite, read_all

if TYPE_CHECKING:  # quality.runner pulls in pandas: imported where a check runs, not here
    from quality.runner import Failure, SuiteResult

CHECK_NAME = "quality_gate"
SAMPLE_CELL_CHARS = 80


def _check_result(result: "SuiteResult") -> dg.AssetCheckResult:
    counts = result.counts
    metadata = {
        "evaluated": result.evaluated,
        "errors": counts["error"],
        "warnings": counts["warning"],
        "failed_expectations": dg.MetadataValue.json([f.as_dict() for f in result.failures]),
    }
    if result.failures:
        metadata["sample_rows"] = dg.MetadataValue.md(_samples_markdown(result.failures))
    if result.page is not None:
        metadata["data_docs"] = dg.MetadataValue.path(str(result.page))
    summary = "; ".join(f.summary() for f in result.failures[:5]) or "every expectation held"
    return dg.AssetCheckResult(
        passed=result.success,
        severity=(
            dg.AssetCheckSeverity.WARN
            if result.severity == "warning"
            else dg.AssetCheckSeverity.ERROR
        ),
        metadata=metadata,
        description=summary[:1000],
    )


def _record(
    con: duckdb.DuckDBPyConnection,
    context: dg.AssetCheckExecutionContext,
    key: dg.AssetKey,
    name: str,
    result: dg.AssetCheckResult,
    failed_expectations: int,
) -> None:
    """Append the evaluation to quality.gate_results for exports run outside Dagster."""
    append_result(
        con,
        run_id=context.run.run_id,
        checked_at=datetime.now(UTC),
        asset_key=key.to_user_string(),
        check_name=name,
        passed=result.passed,
        severity=result.severity.value,
        failed_expectations=failed_expectations,
    )


def _samples_markdown(failures: "list[Failure]") -> str:
    """Each failed expectation with its reason and a few offending rows (already PII-safe)."""
    parts = []
    for f in failures:
        parts.append(f"**{f.summary()}**\n\n{f.why}\n")
        if f.sample:
            columns = list(f.sample[0])
            parts.append("| " + " | ".join(columns) + " |")
            parts.append("|" + "---|" * len(columns))
            parts.extend(
                "| " + " | ".join(_cell(row[c]) for c in columns) + " |" for row in f.sample
            )
            parts.append("")
    return "\n".join(parts)


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= SAMPLE_CELL_CHARS else text[: SAMPLE_CELL_CHARS - 1] + "…"


def _suite_check(suite: Suite) -> dg.AssetChecksDefinition:
    # The other tables its foreign keys and integrity measures read (a sibling staging table,
    # the raw table below): the check must wait for them in a run, or it reads last run's data.
    others = sorted(
        dg.AssetKey(list(key))
        for key in reads(suite.table)
        if key != suite.key and key[0] in EXTERNAL_SCHEMAS
    )
    asset_key = dg.AssetKey([suite.schema, suite.table])

    @dg.asset_check(
        asset=asset_key,
        name=CHECK_NAME,
        blocking=True,
        additional_deps=others,
        description=(
            f"{len(suite.expectations)} expectations from {shown(suite.path)} (keys, "
            "foreign keys, domains, integrity with the layer below, "
            "privacy). Error-level failures block everything downstream in the run; "
            "warning-level ones (e.g. unknown enum values) are reported without blocking."
        ),
        metadata={"suite": shown(suite.path)},
        pool=WAREHOUSE_POOL,  # DuckDB has one writer: checks queue with the assets
    )
    def _check(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> dg.AssetCheckResult:
        from quality.runner import check_table

        scope = warehouse.of(context)
        with scope.connect(prepared=False) as con:
            result = check_table(
                con, suite, run_name=context.run.run_id, docs_dir=scope.env.get(ENV_DOCS)
            )
            outcome = _check_result(result)
            _record(con, context, asset_key, CHECK_NAME, outcome, len(result.failures))
        return outcome

    return _check


EXCEPTIONS = dg.AssetKey(["marts", "reconciliation_exceptions"])
FINDINGS_CHECK = "no_reconciliation_findings"


@dg.asset_check(
    asset=EXCEPTIONS,
    name=FINDINGS_CHECK,
    blocking=False,
    description=(
        "Warns when reconciliation found anything (marts.reconciliation_exceptions), with counts "
        "per check. "
        "Not blocking: a mismatched settlement already waits in review instead of being posted."
    ),
    pool=WAREHOUSE_POOL,
)
def reconciliation_findings(
    context: dg.AssetCheckExecutionContext, warehouse: Warehouse
) -> dg.AssetCheckResult:
    with warehouse.of(context).connect(prepared=False) as con:
        rows = con.execute(
            "select check_name, severity, count(*) from marts.reconciliation_exceptions "
            "group by all order by all"
        ).fetchall()
        by_check: dict[str, dict[str, int]] = {}
        for check_name, severity, n in rows:
            by_check.setdefault(check_name, {})[severity] = n
        total = sum(n for *_, n in rows)
        table = ["| check | severity | findings |", "|---|---|---|"]
        table += [f"| {c} | {s} | {n} |" for c, s, n in rows]
        outcome = dg.AssetCheckResult(
            passed=total == 0,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "findings": total,
                "by_check": dg.MetadataValue.json(by_check),
                "summary": dg.MetadataValue.md("\n".join(table)),
            },
            description=f"{total} reconciliation finding(s)" if total else "no findings",
        )
        _record(con, context, EXCEPTIONS, FINDINGS_CHECK, outcome, total)
    return outcome


quality_checks = [*(_suite_check(s) for s in read_all()), reconciliation_findings]
