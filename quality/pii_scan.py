"""The `columns` frame: the privacy scan, one row per text column of every table a suite is
responsible for (its own and the raw or intermediate tables it reads first, `scan_scope`), with
counts of card-number-like, clear e-mail, clear IBAN, known-PII and invalid-IBAN values.
"""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING

import duckdb

from quality.pii_functions import (
    _CARD_PREFILTER,
    _IBAN_PREFILTER,
    EMAIL_REGEX,
    HASH_REGEX,
    KNOWN_PII_MIN_LENGTH,
    KNOWN_PII_SOURCES,
    PII_NAME_REGEX,
    register_functions,
)
from quality.tables import GOVERNED, PAST_STAGING, describe, quote, warehouse_tables
from transforms.models import discover

if TYPE_CHECKING:  # pandas takes ~2 s to import; the Dagster definitions import this module
    import pandas as pd

# Every table nobody reads (quarantine, dlt's bookkeeping and scratch copies, config, exports)
# is scanned by the ledger's staging suite: every mart, journal and export sits downstream of it,
# so a card number stored anywhere stops the exports.
CATCH_ALL = ("staging", "stg_mollie__balance_transactions")


@cache
def scan_owners() -> dict[tuple[str, str], tuple[str, str]]:
    """Which suite scans which table: its own, and the ungoverned tables it reads first."""
    owners: dict[tuple[str, str], tuple[str, str]] = {}
    for model in discover():  # dependency order: the first reader owns an upstream table
        if model.schema not in GOVERNED:
            continue
        owners.setdefault(model.key, model.key)
        for dep in sorted(model.deps):
            if dep[0] not in GOVERNED:
                owners.setdefault(dep, model.key)
    return owners


def scan_scope(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[tuple[str, str]]:
    """The tables whose text columns the `columns` frame of `schema.table` scans."""
    existing = warehouse_tables(con)
    owners = scan_owners()
    scope = [t for t, owner in owners.items() if owner == (schema, table) and t in existing]
    if (schema, table) == CATCH_ALL:
        scope += sorted(t for t in existing if t not in owners)
    return scope


def _column_scan_sql(schema: str, table: str, columns: list[tuple[str, str]]) -> str:
    transformed = schema in ("staging", *PAST_STAGING)
    aggregates = []
    for name, _dtype in columns:
        v = f"cast({quote(name)} as varchar)"
        # Our pseudonyms are `<...>_hash` columns of the transformed layers (dlt's own
        # `version_hash` in raw is not one).
        is_pseudonym = transformed and name.endswith("_hash")
        pseudonymised = schema in PAST_STAGING or is_pseudonym
        clear = "count(*) filter (where {})" if pseudonymised else "null::bigint"
        aggregates += [
            f"count({v})",
            f"count(*) filter (where case when regexp_matches({v}, '{_CARD_PREFILTER}') "
            f"then quality_masked_card({v}) end is not null)",
            f"min(case when regexp_matches({v}, '{_CARD_PREFILTER}') "
            f"then quality_masked_card({v}) end)",
            f"count(*) filter (where case when regexp_matches({v}, '{_IBAN_PREFILTER}') "
            f"then quality_iban_state({v}) end = 'invalid')",
            clear.format(f"regexp_matches({v}, '{EMAIL_REGEX}')"),
            clear.format(
                f"case when regexp_matches({v}, '{_IBAN_PREFILTER}') "
                f"then quality_iban_state({v}) end = 'valid'"
            ),
            clear.format(f"lower(trim({v})) in (select v from quality_known_pii)"),
            (
                f"count(*) filter (where not regexp_matches({v}, '{HASH_REGEX}'))"
                if is_pseudonym
                else "null::bigint"
            ),
        ]
    return f"select {', '.join(aggregates)} from {schema}.{quote(table)}"


_SCAN_COLUMNS = (
    "non_null_values",
    "card_number_values",
    "card_number_example",
    "invalid_iban_values",
    "clear_email_values",
    "clear_iban_values",
    "known_pii_values",
    "non_hash_values",
)


def _known_pii(con: duckdb.DuckDBPyConnection) -> None:
    existing = warehouse_tables(con)
    selects = [
        f"select cast({expr} as varchar) as v from {schema}.{table}"
        for schema, table, expr in KNOWN_PII_SOURCES
        if (schema, table) in existing
    ] or ["select null::varchar as v"]
    con.execute(
        "create or replace temp table quality_known_pii as "
        f"select distinct lower(trim(v)) as v from ({' union all '.join(selects)}) "
        f"where length(trim(v)) >= {KNOWN_PII_MIN_LENGTH}"
    )


def columns_frame(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> pd.DataFrame:
    import pandas as pd

    register_functions(con)
    _known_pii(con)
    records = []
    for s, t in scan_scope(con, schema, table):
        text = [(n, d) for n, d in describe(con, s, t) if d in ("VARCHAR", "JSON")]
        if not text:
            continue
        values = con.execute(_column_scan_sql(s, t, text)).fetchall()[0]
        width = len(_SCAN_COLUMNS)
        for i, (name, dtype) in enumerate(text):
            row = dict(zip(_SCAN_COLUMNS, values[i * width : (i + 1) * width], strict=True))
            records.append(
                {
                    "table_name": f"{s}.{t}",
                    "column_name": name,
                    "data_type": dtype,
                    "layer": s if s in ("staging", *PAST_STAGING) else "raw",
                    # NULL where the naming rule does not apply (raw and staging columns).
                    "pii_named_column": (
                        bool(re.search(PII_NAME_REGEX, name)) and not name.endswith("_hash")
                        if s in PAST_STAGING
                        else None
                    ),
                    **row,
                }
            )
    frame = pd.DataFrame.from_records(records, columns=_COLUMN_FRAME)
    return frame.astype({c: "Int64" for c in _SCAN_COLUMNS if c != "card_number_example"})


_COLUMN_FRAME = (
    "table_name",
    "column_name",
    "data_type",
    "layer",
    "pii_named_column",
    *_SCAN_COLUMNS,
)
