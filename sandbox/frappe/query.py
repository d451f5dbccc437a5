"""Frappe's `get_list` over the stored documents: filters, fields, order and paging."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sandbox.frappe.doctypes import CHILD_STANDARD_FIELDS, STANDARD_FIELDS
from sandbox.frappe.errors import FrappeError, throw

PAGE_LENGTH = 20  # Frappe's default `limit_page_length`


_OPERATORS = ("=", "!=", "<", ">", "<=", ">=", "like", "not like", "in", "not in", "is", "between")


def _like(pattern: str, value: str) -> bool:
    regex = "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern)
    return re.fullmatch(regex, value, flags=re.IGNORECASE | re.DOTALL) is not None


def _comparable(stored: Any, wanted: Any) -> tuple[Any, Any]:
    # Frappe compares in SQL with ifnull(field, ''|0): bring both sides to one type.
    numeric = isinstance(stored, (Decimal, int)) and not isinstance(stored, bool)
    if numeric or (stored is None and isinstance(wanted, (int, Decimal))):
        try:
            return Decimal(stored or 0), Decimal(str(wanted if wanted not in (None, "") else 0))
        except InvalidOperation:
            return str(stored), str(wanted)
    return ("" if stored is None else str(stored)), ("" if wanted is None else str(wanted))


def _matches(stored: Any, op: str, wanted: Any) -> bool:
    if op == "is":
        is_set = stored not in (None, "")
        return is_set if str(wanted).lower() == "set" else not is_set
    if op in ("in", "not in"):
        options = wanted.split(",") if isinstance(wanted, str) else list(wanted or [])
        hit = any(a == b for a, b in (_comparable(stored, o) for o in options))
        return hit if op == "in" else not hit
    if op == "between":
        low, high = list(wanted)[:2]
        a, lo = _comparable(stored, low)
        _, hi = _comparable(stored, high)
        return lo <= a <= hi
    a, b = _comparable(stored, wanted)
    if op in ("like", "not like"):
        hit = _like(str(b), str(a))
        return hit if op == "like" else not hit
    return {"=": a == b, "!=": a != b, "<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]


@dataclass(frozen=True, slots=True)
class _Condition:
    doctype: str | None  # a child doctype when the filter names one
    fieldname: str
    op: str
    value: Any


class ListQuery:
    """Parses and runs one `GET /api/resource/<DocType>` (frappe.client.get_list)."""

    def __init__(
        self,
        doctype: str,
        fields: Iterable[str],
        child: tuple[str, str] | None,
        child_fields: Iterable[str] = (),
    ) -> None:
        self.doctype = doctype
        self.fields = set(fields) | STANDARD_FIELDS
        self.child = child  # (child doctype, table fieldname)
        self.child_fields = set(child_fields) | CHILD_STANDARD_FIELDS

    def _bad_field(self, name: str) -> FrappeError:
        return throw(f"Field not permitted in query: {name}", "DataError", source=None)

    def _conditions(self, raw: Any) -> list[_Condition]:
        if raw in (None, "", [], {}):
            return []
        if isinstance(raw, dict):
            items: list[list[Any]] = []
            for k, v in raw.items():
                if isinstance(v, list) and v and str(v[0]).lower() in _OPERATORS:
                    items.append([k, v[0], v[1] if len(v) > 1 else None])
                else:
                    items.append([k, "=", v])
            raw = items
        if not isinstance(raw, list):
            raise throw("filters must be a JSON list or object", "DataError", source=None)
        out = []
        for item in raw:
            if not isinstance(item, list) or len(item) not in (2, 3, 4):
                raise throw(
                    f"Invalid filter: {json.dumps(item, default=str)}", "DataError", source=None
                )
            doctype = item[0] if len(item) == 4 else None
            rest = item[1:] if len(item) == 4 else item
            fieldname, op, value = (rest[0], "=", rest[1]) if len(rest) == 2 else rest
            op = str(op).lower()
            if op not in _OPERATORS:
                raise throw(f"Unsupported operator: {op}", "DataError", source=None)
            child = self.child is not None and doctype == self.child[0]
            if doctype not in (None, self.doctype) and not child:
                raise self._bad_field(f"{doctype}.{fieldname}")
            if fieldname not in (self.child_fields if child else self.fields):
                raise self._bad_field(fieldname)
            out.append(_Condition(doctype if child else None, fieldname, op, value))
        return out

    def _holds(self, doc: Mapping[str, Any], cond: _Condition) -> bool:
        if cond.doctype is None:
            return _matches(doc.get(cond.fieldname), cond.op, cond.value)
        assert self.child is not None
        rows = doc.get(self.child[1]) or []
        return any(_matches(r.get(cond.fieldname), cond.op, cond.value) for r in rows)

    def run(self, docs: Iterable[Mapping[str, Any]], params: Mapping[str, str]) -> list[Any]:
        fields = _json_param(params, "fields", ["name"])
        if isinstance(fields, str):
            fields = [fields]
        if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
            raise throw("fields must be a JSON list of field names", "DataError", source=None)
        # "`tabJournal Entry`.name" and "name" name the same column
        fields = [f.replace("`", "").rsplit(".", 1)[-1] for f in fields]
        everything = "*" in fields
        for name in fields:
            if name != "*" and name not in self.fields:
                raise self._bad_field(name)
        where = self._conditions(_json_param(params, "filters", None))
        either = self._conditions(_json_param(params, "or_filters", None))
        hits = [
            d
            for d in docs
            if all(self._holds(d, c) for c in where)
            and (not either or any(self._holds(d, c) for c in either))
        ]
        hits = self._ordered(hits, params.get("order_by") or "modified desc")
        start = _int_param(params, "limit_start", 0)
        length = _int_param(params, "limit_page_length", _int_param(params, "limit", PAGE_LENGTH))
        hits = hits[start : start + length] if length else hits[start:]
        table = self.child[1] if self.child else None
        if everything:  # every stored column; child tables are never part of a list
            rows = [{k: v for k, v in d.items() if k != table and k != "doctype"} for d in hits]
        else:
            rows = [{f: d.get(f) for f in fields} for d in hits]
        if params.get("as_dict") in ("0", "false", "False"):
            return [list(r.values()) for r in rows]
        return rows

    def _ordered(self, docs: list[Mapping[str, Any]], order_by: str) -> list[Mapping[str, Any]]:
        keys = []
        for part in order_by.split(","):
            bits = part.strip().replace("`", "").split()
            if not bits:
                continue
            name = bits[0].rsplit(".", 1)[-1]
            if name not in self.fields:
                raise self._bad_field(name)
            keys.append((name, len(bits) > 1 and bits[1].lower() == "desc"))
        for name, desc in reversed(keys):  # stable sorts, last key first

            def key(d: Mapping[str, Any], name: str = name) -> tuple[int, Any]:
                v = d.get(name)
                if v is None:
                    return (0, "")
                return (1, v) if isinstance(v, (int, Decimal)) else (2, str(v))

            docs = sorted(docs, key=key, reverse=desc)
        return docs


def _json_param(params: Mapping[str, str], key: str, default: Any) -> Any:
    raw = params.get(key)
    if raw is None or raw == "":
        return default
    try:
        return json.loads(raw, parse_float=Decimal)
    except json.JSONDecodeError:
        if key == "fields":  # Frappe also takes a bare field name
            return [raw]
        raise throw(f"{key} is not valid JSON: {raw}", "DataError", source=None) from None


def _int_param(params: Mapping[str, str], key: str, default: int) -> int:
    raw = params.get(key)
    if raw in (None, ""):
        return default
    try:
        return max(int(raw), 0)
    except ValueError:
        raise throw(f"{key} must be a whole number", source=None) from None
