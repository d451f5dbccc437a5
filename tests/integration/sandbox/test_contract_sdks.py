"""Every response the extract reads parses with both of Mollie's Python SDKs, strictly.

The extract reads: the organization (`/organizations/me`), profiles, balances, each balance's
transactions and daily reports, settlements and each one's payments (per profile), refunds,
chargebacks and captures, invoices, and payments / refunds (per profile), chargebacks, customers
and subscriptions. This module reads all of them, every page, from a real sandbox over HTTP, with
both SDKs, at two seeds, in the world holding every balance-transaction type (`every_type`) and
in a Mollie Connect platform's world (`platform`); balance reports in both groupings.

- `mollie-api-py` (generated from Mollie's OpenAPI description) parses each body as strictly as
  its models allow (sdk_strict.py says how): the only enum values accepted outside its enums are
  the balance-transaction types Mollie's description names in its prose but not in its enum
  (`description` in tests/fixtures/mollie_balance_transaction_types.txt); the few other things the
  strict parse rejects on purpose are STRICT_ALLOWED, each with why.
- `mollie-api-python` (hand-written) wraps the JSON in dict subclasses: its objects must be of the
  right class, each of their properties and status helpers must read without error, and it must
  page through exactly the same objects as the generated SDK (sdk_reads.py).

test_mollie_sdk.py covers the SDKs' other calls on the default world (gets by id and by
reference, open and next settlements, embeds, customers' sub-lists) and counts against the world.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from mollie.api.client import Client
from mollie.models import BalanceTransactionType, Security
from mollie.sdk import ClientSDK
from sdk_reads import SUBLISTS, Reads, read_with_legacy, read_with_speakeasy
from sdk_strict import Problem, StrictLog, parse_strictly_too, strict_problems

from sandbox.generate import SandboxConfig
from sandbox.server import DEFAULT_ACCESS_TOKEN, SandboxServer

TYPES_FIXTURE = Path(__file__).parents[2] / "fixtures" / "mollie_balance_transaction_types.txt"

# Every endpoint the extract reads (extract/source.py); each must be read below.
EXTRACT_ENDPOINTS = {
    "/organizations/me",
    "/profiles",
    "/balances",
    "/balances/{id}/transactions",
    "/balances/{id}/report",
    "/settlements",
    *(f"/settlements/{{id}}/{kind}" for kind in SUBLISTS),
    "/invoices",
    "/payments",
    "/refunds",
    "/chargebacks",
    "/customers",
    "/subscriptions",
}


def _world(seed: int, **options: bool) -> SandboxConfig:
    """A world of 600 payments over 45 days, with the sandbox's opt-in world options."""
    config = SandboxConfig.from_cli(seed=seed, payments=600, days=45, now="2026-11-01T00:00:00Z")
    return replace(config, **options)


WORLDS = {
    "seed7": _world(7),
    "seed9": _world(9),  # its 45 days hold chargebacks too, so every list has objects to parse
    "every-type": _world(7, every_type=True),
    "platform": _world(9, platform=True),
}


def _description_only_types() -> set[str]:
    """Types Mollie's description names but its enum (so the generated SDK) lacks."""
    lines = TYPES_FIXTURE.read_text(encoding="utf-8").splitlines()
    rows = [line.split("\t") for line in lines if line and not line.startswith("#")]
    return {name for name, source in rows if source == "description"} - {
        t.value for t in BalanceTransactionType
    }


# What the strict parse of the generated SDK rejects on purpose: (pattern on the folded JSON path,
# problem, why). Where Mollie's own examples show a key its schema (and so the SDK's model) lacks,
# the sandbox sends it as the examples do; sandbox/README.md, "Where Mollie's spec and Mollie's
# examples disagree", gives each case with its example.
STRICT_ALLOWED: list[tuple[str, str, str]] = [
    (
        r"\._embedded\.balance_transactions\[\*\]\.context\.\w+$",
        "unknown key",
        "context is flat (`context.paymentId`) as in the description's prose and examples and both"
        " SDKs' fixtures; its schema nests it per type (`context.payment.paymentId`)",
    ),
    (
        r"\._embedded\.\w+\[\*\]\._links\.documentation$",
        "unknown key",
        "a listed object has the `documentation` link of the same object fetched alone, as in the"
        " description's refund, subscription and capture list examples and the Python fixtures",
    ),
    (
        r"\._embedded\.(payments|refunds|chargebacks)\[\*\]\.settlementAmount$",
        "unknown key",
        "`settlementAmount` on payments, refunds and chargebacks, as in the description's payment"
        " and chargeback examples and both SDKs' fixtures; its schemas for them lack it",
    ),
    (
        r"\._embedded\.balances\[\*\]\.transferDestination\.bankAccountId$",
        "unknown key",
        "`transferDestination.bankAccountId`, as in every balance fixture of both SDKs",
    ),
    (
        r"^\$\._links\.(chargebacks|customers|invoices|payments|profiles|refunds|settlements)$",
        "unknown key",
        "the organization's links to its lists, as in the description's own example of"
        " /organizations/me and the Python fixture",
    ),
    (
        r"\.subtotals\[\*\]\.(amount|subtotals)$",
        "unknown key",
        "report subtotals have an `amount` and nest as `subtotals`, as in every report example;"
        " the schema gives them no amount and nests them as `sub-totals`",
    ),
    (
        r"^\$\._embedded\.payments\[\*\]\.status$",
        "invalid",
        "a settlement lists the direct debit whose credit it swept with its current status,"
        " `failed` once the bank returned it; the schema narrows a settlement's payments to `paid`"
        " (sandbox/README.md, Objects that follow the ledger)",
    ),
    (
        r"\._embedded\.subscriptions\[\*\]\.profileId$",
        "unknown key",
        "the description declares a subscription's `profileId`; mollie-api-py 1.10's model, built"
        " from another revision of it, does not",
    ),
]


def allowance(problem: Problem) -> str | None:
    """The STRICT_ALLOWED pattern that covers this problem, if any."""
    for pattern, kind, _ in STRICT_ALLOWED:
        if re.search(pattern, problem.path) and problem.what.startswith(kind):
            return pattern
    return None


@pytest.fixture
def strict_log(monkeypatch) -> StrictLog:
    return parse_strictly_too(monkeypatch)


@pytest.fixture(scope="module", params=sorted(WORLDS))
def server(request):
    with SandboxServer(WORLDS[request.param]) as s:
        yield s


def report_windows(server: SandboxServer) -> list[tuple[str, str]]:
    """One day (as the extract reads reports) and the last month, as `from`/`until` dates."""
    today = datetime.fromtimestamp(server.config.now, UTC).date()
    windows = [
        (today - timedelta(days=2), today - timedelta(days=1)),
        (today - timedelta(30), today),
    ]
    return [(a.isoformat(), b.isoformat()) for a, b in windows]


# -- the tests --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def legacy_reads(server) -> Reads:
    client = Client(api_endpoint=f"http://127.0.0.1:{server.port}")
    client.set_access_token(DEFAULT_ACCESS_TOKEN)
    return read_with_legacy(client, report_windows(server))


def test_generated_sdk_parses_every_response_strictly(request, server, strict_log, legacy_reads):
    with ClientSDK(
        server_url=f"http://127.0.0.1:{server.port}",
        security=Security(advanced_access_token=DEFAULT_ACCESS_TOKEN),
    ) as sdk:
        reads = read_with_speakeasy(sdk, report_windows(server))

    assert {endpoint for endpoint, _ in reads} == EXTRACT_ENDPOINTS
    # Every response went through the strict parse (the SDK still calls what was patched).
    assert sum(strict_log.parsed.values()) >= len(reads), strict_log.parsed

    description_only = _description_only_types()
    unexpected = [
        p
        for p in strict_log.problems
        if allowance(p) is None
        and not (
            p.path.endswith((".type", ".transactionType"))
            and "BalanceTransactionType" in p.what
            and any(p.what.endswith(f"({t!r})") for t in description_only)
        )
    ]
    summary = sorted({(p.path, p.what) for p in unexpected})
    assert not summary, "\n".join(f"{path}: {what}" for path, what in summary[:200])
    if request.node.callspec.params["server"].startswith("seed"):
        # The allowances are for what every default world sends: one that no longer matches
        # anything should leave the list (and sandbox/README.md).
        used = {allowance(p) for p in strict_log.problems}
        assert {pattern for pattern, _, _ in STRICT_ALLOWED} <= used

    # Both SDKs read the same objects, in the same order, from every endpoint and page.
    assert reads == legacy_reads


def test_every_endpoint_has_objects_to_parse(server, legacy_reads):
    """An empty list parses trivially: the worlds must give each list something to parse."""
    endpoints_with_objects = {endpoint for (endpoint, _), got in legacy_reads.items() if got}
    assert endpoints_with_objects == EXTRACT_ENDPOINTS


def test_unknown_keys_and_enum_values_are_caught():
    """The strict parse is not vacuous: a stray key and a type outside the enum are found."""
    from mollie.models import ListBalanceTransactionsResponseBody as Body

    row = {
        "resource": "balance-transaction",
        "id": "baltr_x",
        "type": "payment",
        "resultAmount": {"currency": "EUR", "value": "9.71"},
        "initialAmount": {"currency": "EUR", "value": "10.00"},
        "createdAt": "2026-10-01T10:00:00+00:00",
    }
    links = {"self": {"href": "h", "type": "application/hal+json"}, "previous": None, "next": None}
    docs = {"documentation": {"href": "h", "type": "text/html"}}

    def body(**changes: Any) -> str:
        item = {**row, **changes}
        return json.dumps(
            {"count": 1, "_embedded": {"balance_transactions": [item]}, "_links": links | docs}
        )

    assert strict_problems(Body, "u", body()) == []
    (stray,) = strict_problems(Body, "u", body(stray=1))
    assert (stray.path, stray.what) == ("$._embedded.balance_transactions[*].stray", "unknown key")
    (bad,) = strict_problems(Body, "u", body(type="not-a-mollie-type"))
    assert (
        bad.path == "$._embedded.balance_transactions[*].type" and "not-a-mollie-type" in bad.what
    )
    (text,) = strict_problems(Body, "u", body(resultAmount={"currency": "EUR", "value": 9.71}))
    assert text.path.endswith(".resultAmount.value")
    # An optional object its type refuses would pass as "left out" (`Unset`): it is caught too.
    fees = {"fees": {"currency": "EUR", "value": -0.29}}
    (hidden,) = strict_problems(Body, "u", body(deductionDetails=fees))
    assert hidden.path == "$._embedded.balance_transactions[*].deductionDetails.fees.value"
    assert hidden.what.startswith("invalid")


def test_the_endpoint_list_is_what_the_extract_reads(tmp_path):
    """EXTRACT_ENDPOINTS is every endpoint a full extract requests, so none escapes the parse."""
    from extract.pipeline import run_extract
    from extract.settings import ClientSettings

    config = SandboxConfig.from_cli(seed=7, payments=150, days=20, now="2026-11-01T00:00:00Z")
    with SandboxServer(config, log_requests=True) as server:
        settings = ClientSettings(
            base_url=server.base_url, token=DEFAULT_ACCESS_TOKEN, rate_per_second=0
        )
        run_extract(tmp_path / "warehouse.duckdb", settings=settings)
        targets = list(server.request_log or [])
    ids = re.compile(r"/(balances|settlements)/[^/?]+")
    requested = {ids.sub(r"/\1/{id}", t.split("?")[0].removeprefix("/v2")) for t in targets}
    assert requested == EXTRACT_ENDPOINTS
