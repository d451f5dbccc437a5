"""Time helpers for the sandbox: epoch seconds, Amsterdam days and months, business days.

Mollie reports (balance reports, invoices, settlement periods) work in Europe/Amsterdam local
dates, so every day and month boundary here is an Amsterdam one.
"""

from __future__ import annotations

import bisect
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

AMS = ZoneInfo("Europe/Amsterdam")
DAY = 86_400


def parse_instant(text: str) -> int:
    """Parse an ISO 8601 instant (`2026-11-01T00:00:00Z`, offsets, or a bare date) to epoch."""
    text = text.strip()
    if len(text) == 10:
        return local_midnight(date.fromisoformat(text))
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp())


def iso(epoch: int) -> str:
    """Mollie's timestamp style: `2024-03-20T09:13:37+00:00`."""
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def local_date(epoch: int) -> date:
    return datetime.fromtimestamp(epoch, AMS).date()


def local_midnight(d: date) -> int:
    return int(datetime.combine(d, time(0), AMS).timestamp())


def local_at(d: date, hour: int, minute: int = 0) -> int:
    return int(datetime.combine(d, time(hour, minute), AMS).timestamp())


def add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    for day in (d.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def next_business_day(d: date) -> date:
    d += timedelta(days=1)
    while d.weekday() >= 5:
        d += timedelta(days=1)
    return d


def add_business_days(epoch: int, days: int) -> int:
    """`days` business days later, same local time of day (weekends skipped)."""
    dt = datetime.fromtimestamp(epoch, AMS)
    d = dt.date()
    for _ in range(days):
        d = next_business_day(d)
    return int(datetime.combine(d, dt.time(), AMS).timestamp())


class MonthIndex:
    """Maps epochs to their Amsterdam (year, month) quickly (a bisect over month starts)."""

    def __init__(self, start: int, end: int) -> None:
        first = local_date(start).replace(day=1)
        self._starts: list[int] = []
        self._months: list[tuple[int, int]] = []
        d = add_months(first, -1)
        while True:
            self._starts.append(local_midnight(d))
            self._months.append((d.year, d.month))
            if self._starts[-1] > end:
                break
            d = add_months(d, 1)

    def month_of(self, epoch: int) -> tuple[int, int]:
        return self._months[bisect.bisect_right(self._starts, epoch) - 1]
