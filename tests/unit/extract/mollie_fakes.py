"""Helpers for the extract unit tests: fake time, canned responses, the Mollie samples.

tests/fixtures/mollie_samples/ holds Mollie's own sample responses, copied byte for byte from
Mollie's SDKs' test fixtures (BSD-2-Clause; sources, commits and attribution in its README).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

SAMPLES_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "mollie_samples"
BASE_URL = "https://api.mollie.com/v2"
TOKEN = "access_SeCrEt0123456789abcdefGHIJ"  # never allowed to show up in any output

Handler = Callable[[httpx.Request], httpx.Response]


def load_sample(name: str) -> dict[str, Any]:
    """A sample file, decoded the way the client decodes bodies (floats as Decimal)."""
    return json.loads((SAMPLES_DIR / name).read_text(), parse_float=Decimal)


def problem(
    status: int,
    detail: str = "details",
    *,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """A Mollie problem-JSON error response."""
    body: dict[str, Any] = {"status": status, "title": f"Title {status}", "detail": detail}
    if field:
        body["field"] = field
    return httpx.Response(
        status, json=body, headers={"Content-Type": "application/hal+json", **(headers or {})}
    )


def page(
    key: str, items: list[dict[str, Any]], next_href: str | type | None = None
) -> httpx.Response:
    """A list response; `next_href=KeyError` leaves the `next` key out entirely."""
    links: dict[str, Any] = {"self": {"href": "x", "type": "application/hal+json"}}
    if next_href is not KeyError:
        links["next"] = {"href": next_href, "type": "application/hal+json"} if next_href else None
    return httpx.Response(
        200, json={"count": len(items), "_embedded": {key: items}, "_links": links}
    )


def sequence(*responses: httpx.Response | Exception) -> Handler:
    """A handler answering with `responses` in order (an exception is raised instead)."""
    remaining: Iterator[httpx.Response | Exception] = iter(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        answer = next(remaining)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handler


class FakeTime:
    """A monotonic clock that only moves when something sleeps; records every sleep."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
