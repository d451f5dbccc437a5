"""Fixtures for the extract unit tests (helpers live in `mollie_fakes`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from mollie_fakes import BASE_URL, TOKEN, FakeTime, Handler

from extract.client import MollieClient
from extract.settings import ClientSettings


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def make_client(fake_time: FakeTime) -> Iterator[Callable[..., MollieClient]]:
    """Build a `MollieClient` on a MockTransport; the rate limiter is off unless asked for."""
    clients: list[MollieClient] = []

    def make(handler: Handler, **overrides: Any) -> MollieClient:
        values: dict[str, Any] = {"base_url": BASE_URL, "token": TOKEN, "rate_per_second": 0}
        values.update(overrides)
        client = MollieClient(
            ClientSettings(**values),
            transport=httpx.MockTransport(handler),
            sleep=fake_time.sleep,
            clock=fake_time.clock,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
