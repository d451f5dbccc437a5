"""Fixtures for the Frappe stand-in's tests: one server per module, reset before each test."""

from __future__ import annotations

import httpx
import pytest

from sandbox.frappe import FrappeTestServer


@pytest.fixture(scope="module")
def server():
    with FrappeTestServer() as s:
        yield s


@pytest.fixture(autouse=True)
def fresh(server: FrappeTestServer):
    server.reset()
    yield


@pytest.fixture
def http(server: FrappeTestServer):
    with httpx.Client(
        base_url=server.url, headers={"Authorization": server.auth_header}, timeout=10
    ) as client:
        yield client
