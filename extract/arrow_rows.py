"""Mapped rows as Arrow tables, typed by the raw table contract (extract.records).

dlt writes Arrow tables straight to Parquet and its normalize step only moves the files, where
lists of dicts are written as JSON lines and then re-read, coerced and re-written row by row in
normalize: that row-by-row pass was a third of a full extract's CPU (docs/benchmarks.md). The
Arrow types come from the same column hints dlt gets, so money stays DECIMAL(18,2)/(18,4) from
Python's `Decimal` to DuckDB, and instants TIMESTAMPTZ.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import cache
from typing import Any

import dlt
import pyarrow as pa

from extract.records import QUARANTINE_COLUMNS, QUARANTINE_TABLE, TABLES, Row


def arrow_type(hint: Mapping[str, Any]) -> pa.DataType:
    """The Arrow type of a dlt column hint (the kinds extract.records declares)."""
    kind = hint["data_type"]
    if kind == "decimal":
        return pa.decimal128(hint["precision"], hint["scale"])
    if kind == "timestamp":
        return pa.timestamp("us", tz="UTC")
    if kind == "date":
        return pa.date32()
    if kind == "bigint":
        return pa.int64()
    if kind == "bool":
        return pa.bool_()
    if kind in ("text", "json"):  # JSON columns hold the serialized text (records._convert)
        return pa.string()
    raise ValueError(f"no Arrow type for column kind {kind!r}")


@cache
def arrow_schema(table: str) -> pa.Schema:
    """The Arrow schema of a raw table, or of `quarantine`."""
    columns = QUARANTINE_COLUMNS if table == QUARANTINE_TABLE else TABLES[table].columns()
    return pa.schema(
        [
            pa.field(name, arrow_type(hint), nullable=hint.get("nullable", True))
            for name, hint in columns.items()
        ]
    )


class JsonAsTextNotice(logging.Filter):
    """Drops dlt's warning that an Arrow table's hints differ from the resource's.

    The only difference is by design: a JSON column travels as its serialized text (Arrow has no
    JSON type) and loads into the JSON column the hint declares. tests/unit/extract proves no
    other hint differs, so the warning (logged on every page) says nothing.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "when merging arrow schema with dlt schema" not in record.getMessage()


logging.getLogger("dlt").addFilter(JsonAsTextNotice())


def to_arrow(table: str, rows: list[Row]) -> pa.Table:
    """Rows of `table` as one Arrow table; a key a row lacks is NULL.

    Raises:
        ValueError: a row holds a key the table does not declare (a mapping bug must not lose a
            column silently), or a value that does not fit its column.
    """
    schema = arrow_schema(table)
    names = set(schema.names)
    for row in rows:
        extra = row.keys() - names
        if extra:
            raise ValueError(f"{table}: undeclared column(s) {sorted(extra)}")
    try:
        return pa.Table.from_pylist(rows, schema=schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise ValueError(f"{table}: {exc}") from exc


BATCH_ROWS = 20_000
"""Rows per Arrow table handed to dlt. dlt re-derives and validates a table's schema for every
Arrow item it is given (its schema-contract cache does not cover Arrow), which cost more than
the Parquet path saved when every 250-row page went out on its own."""


def _table_of(item: Any) -> str | None:
    """The table a marked item is routed to; None for the resource's own table."""
    meta = getattr(item, "meta", None)
    return getattr(meta, "table_name", None) if meta is not None else None


def coalesce(items: Iterable[Any], max_rows: int = BATCH_ROWS) -> Iterator[Any]:
    """The Arrow tables of `items`, joined per target table into tables of about `max_rows`.

    Order within a table is kept; an item that is not an Arrow table passes through as is. What
    is buffered goes out when the items end, so nothing yielded upstream is dropped.
    """
    buffers: dict[str | None, list[pa.Table]] = {}

    def flush(target: str | None) -> Iterator[Any]:
        joined = pa.concat_tables(buffers.pop(target))
        yield joined if target is None else dlt.mark.with_table_name(joined, target)

    for item in items:
        target = _table_of(item)
        data = item.data if target is not None else item
        if not isinstance(data, pa.Table):
            yield item
            continue
        buffered = buffers.setdefault(target, [])
        buffered.append(data)
        if sum(t.num_rows for t in buffered) >= max_rows:
            yield from flush(target)
    for target in list(buffers):
        yield from flush(target)


def coalesced(fn: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
    """`fn` (a resource or transformer body) with its Arrow tables coalesced (`coalesce`)."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Iterator[Any]:
        yield from coalesce(fn(*args, **kwargs))

    return run
