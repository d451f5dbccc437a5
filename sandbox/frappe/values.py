"""Values as Frappe reads and writes them: numbers rounded like `flt`, floats in JSON, dates,
and field coercion by field type.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from sandbox.frappe.doctypes import DocField
from sandbox.frappe.errors import throw

CENT = Decimal("0.01")


def round_to(value: Decimal, places: Decimal = CENT) -> Decimal:
    # Frappe's flt(value, precision): banker's rounding.
    return value.quantize(places, rounding=ROUND_HALF_EVEN)


def _json_default(obj: Any) -> Any:
    # Frappe's json_handler sends Decimal as a JSON float: the wire format is Frappe's.
    if isinstance(obj, Decimal):
        return float(obj)
    if isinstance(obj, (date, datetime)):
        return obj.isoformat()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def dumps(obj: Any) -> bytes:
    return json.dumps(
        obj, default=_json_default, ensure_ascii=False, separators=(",", ":")
    ).encode()


def timestamp() -> str:
    return datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")


class Coercer:
    """Turns incoming JSON values into typed field values, as Frappe's BaseDocument does."""

    def __init__(self, strict: bool) -> None:
        self.strict = strict

    def number(self, value: Any, label: str, where: str) -> Decimal:
        if value is None or value == "":
            return Decimal(0)
        parsed: Decimal | None = None
        if isinstance(value, bool):
            parsed = None
        elif isinstance(value, (int, Decimal)):
            parsed = Decimal(value)
        elif isinstance(value, float):  # only from non-JSON bodies; JSON is parsed to Decimal
            parsed = Decimal(str(value))
        elif isinstance(value, str):
            try:
                parsed = Decimal(value.strip())
            except InvalidOperation:
                parsed = None
        if parsed is not None and parsed.is_finite():
            return parsed
        if self.strict:
            raise throw(
                f"{where}{label}: {value!r} is not a number (frappe test stand-in: "
                "Frappe's flt() would silently read it as 0)",
                source=None,
            )
        return Decimal(0)

    @staticmethod
    def date(value: Any) -> str | None:
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                return date.fromisoformat(value).isoformat()
            except ValueError:
                try:
                    return datetime.fromisoformat(value).date().isoformat()
                except ValueError:
                    pass
        raise throw(
            f"<strong>{value}</strong> is not a valid date string.",
            title="Invalid Date",
            source=None,
        )

    @staticmethod
    def check(value: Any, label: str, where: str) -> int:
        if value in (None, "", 0, 1, "0", "1"):  # True == 1 and False == 0 match too
            return int(value or 0)
        raise throw(f"{where}{label}: {value!r} is not a checkbox value (0 or 1)", source=None)

    @staticmethod
    def text(value: Any, label: str, where: str) -> str | None:
        if value is None:
            return None
        if isinstance(value, str):
            return value
        if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
            return str(value)
        raise throw(f"{where}{label}: expected text, got {type(value).__name__}", source=None)

    def value(self, f: DocField, value: Any, where: str) -> Any:
        if f.fieldtype in ("Currency", "Float"):
            return self.number(value, f.label, where)
        if f.fieldtype == "Date":
            return self.date(value)
        if f.fieldtype == "Check":
            return self.check(value, f.label, where)
        return self.text(value, f.label, where)
