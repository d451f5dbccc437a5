"""Exact money for the sandbox generator.

The generator creates millions of amounts, so it works in integer *units* of 1/10 000 of a
currency unit (Mollie's finest precision: settlement periods carry 4 decimals). Integers are exact
like Decimal and an order of magnitude faster. Every value leaves the sandbox as a Mollie amount
string, produced here from the integer; no float ever touches a money value.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

UNIT = 10_000  # units per currency unit
CENT = 100  # units per cent


def units(value: str | int | Decimal) -> int:
    """Parse "12.34" (or a Decimal) into exact integer units; refuses anything inexact."""
    d = Decimal(value) * UNIT
    if d != d.to_integral_value():
        raise ValueError(f"{value!r} has more than 4 decimals")
    return int(d)


def round_units(u: int, decimals: int = 2) -> int:
    """Round integer units to `decimals` places, half-even (banker's rounding, as Mollie)."""
    step = 10 ** (4 - decimals)
    q, r = divmod(u, step)
    twice = 2 * r
    if twice > step or (twice == step and q % 2 == 1):
        q += 1
    return q * step


def percent_of(u: int, percent: str) -> int:
    """`percent` % of `u` units, rounded half-even to whole units (4 decimals)."""
    exact = Decimal(u) * Decimal(percent) / Decimal(100)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def fmt(u: int, decimals: int = 2) -> str:
    """Format units as Mollie's amount string with exactly `decimals` decimals.

    Refuses to drop precision silently: `u` must already be a multiple of the step.
    """
    step = 10 ** (4 - decimals)
    if u % step:
        raise ValueError(f"{u} units cannot be shown with {decimals} decimals without rounding")
    sign = "-" if u < 0 else ""
    whole, frac = divmod(abs(u), UNIT)
    if decimals == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{frac // step:0{decimals}d}"


def amount(u: int, currency: str, decimals: int = 2) -> dict[str, str]:
    """A Mollie amount object."""
    return {"currency": currency, "value": fmt(u, decimals)}


def to_decimal(u: int) -> Decimal:
    """Units as an exact Decimal (for tests and reports)."""
    return Decimal(u) / UNIT
