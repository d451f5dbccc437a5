"""Check the sandbox's responses against Mollie's OpenAPI description (a development tool).

Mollie publishes its API v2 as an OpenAPI 3.1 document (`specs.yaml` in github.com/mollie/openapi,
the document its SDKs are generated from). Its licence (CC-BY-NC-SA) keeps it out of this
repository, so no test reads it; this tool does, from a path you give it:

    .venv/bin/python tools/spec_check.py PATH/TO/specs.yaml
    .venv/bin/python tools/spec_check.py PATH/TO/specs.yaml --seed 7 --seed 9 --world every_type
    .venv/bin/python tools/spec_check.py PATH/TO/specs.yaml --objects 20
    .venv/bin/python tools/spec_check.py PATH/TO/specs.yaml --examples --samples DIR

It starts the sandbox (one world per `--seed`), reads every endpoint the extract reads the way the
extract reads it (every page, every settlement's four sub-lists, payments and refunds per profile,
balance reports in both groupings), and validates each response body against the response schema
the description gives for that operation: JSON Schema 2020-12 with format checking, `$ref`s
resolved inside the document. `--base-url` checks another server (a Mollie account, token in
MOLLIE_ACCESS_TOKEN) instead. `--objects N` also fetches up to N listed objects of each kind
through their `_links.self` (gets the SDKs make, the extract does not). `--examples` also
validates the description's own response examples, and `--samples DIR` a folder of Mollie's SDK
fixture responses, against the same schemas: where they fail, the description and Mollie's
examples disagree (sandbox/README.md lists those cases and which side the sandbox follows).

Violations are printed grouped by endpoint and JSON path (array indices and settlement period keys
folded to `[*]`), with a count and one example. Exit status 1 when a response of the sandbox (or
`--base-url`) violates its schema other than as documented (DOCUMENTED, and balance-transaction
types the description names only in prose), 0 otherwise; examples and samples are reported, not
counted.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, fields, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from openapi_spec import Spec, Violation

PAGE = 250  # Mollie's largest page, as the extract asks for it

# Mollie's SDK fixture files (mollie-api-python `tests/responses/`, mollie-api-php
# `src/Fake/Responses/`) and the operation each one answers, for `--samples`.
SAMPLE_OPERATIONS: dict[str, str] = {
    "balances_list.json": "/v2/balances",
    "balance_single.json": "/v2/balances/{balanceId}",
    "balance_transactions_list.json": "/v2/balances/{balanceId}/transactions",
    "balance_report_single.json": "/v2/balances/{balanceId}/report",
    "settlements_list.json": "/v2/settlements",
    "settlement_single.json": "/v2/settlements/{settlementId}",
    "settlement_chargebacks_list.json": "/v2/settlements/{settlementId}/chargebacks",
    "settlement_chargebacks_list_more.json": "/v2/settlements/{settlementId}/chargebacks",
    "invoices_list.json": "/v2/invoices",
    "invoice_single.json": "/v2/invoices/{invoiceId}",
    "organization_current.json": "/v2/organizations/me",
    "organization_single.json": "/v2/organizations/{organizationId}",
    "payments_list.json": "/v2/payments",
    "payment_single.json": "/v2/payments/{paymentId}",
    "refunds_list.json": "/v2/refunds",
    "refund_single.json": "/v2/payments/{paymentId}/refunds/{refundId}",
    "captures_list.json": "/v2/payments/{paymentId}/captures",
    "capture_single.json": "/v2/payments/{paymentId}/captures/{captureId}",
    "chargebacks_list.json": "/v2/chargebacks",
    "chargebacks_list_more.json": "/v2/chargebacks",
    "customers_list.json": "/v2/customers",
    "customer_single.json": "/v2/customers/{customerId}",
    "subscriptions_list.json": "/v2/subscriptions",
    "subscription_single.json": "/v2/customers/{customerId}/subscriptions/{subscriptionId}",
    "mollie-api-php/balance-list.json": "/v2/balances",
    "mollie-api-php/balance.json": "/v2/balances/{balanceId}",
    "mollie-api-php/balance-report.json": "/v2/balances/{balanceId}/report",
    "mollie-api-php/balance-transaction-list.json": "/v2/balances/{balanceId}/transactions",
    "mollie-api-php/settlement-list.json": "/v2/settlements",
    "mollie-api-php/settlement.json": "/v2/settlements/{settlementId}",
    "mollie-api-php/invoice-list.json": "/v2/invoices",
    "mollie-api-php/invoice.json": "/v2/invoices/{invoiceId}",
    "mollie-api-php/organization.json": "/v2/organizations/{organizationId}",
    "mollie-api-php/payment-list.json": "/v2/payments",
    "mollie-api-php/payment.json": "/v2/payments/{paymentId}",
    "mollie-api-php/refund-list.json": "/v2/refunds",
    "mollie-api-php/refund.json": "/v2/payments/{paymentId}/refunds/{refundId}",
    "mollie-api-php/chargeback-list.json": "/v2/chargebacks",
    "mollie-api-php/capture-list.json": "/v2/payments/{paymentId}/captures",
    "mollie-api-php/capture.json": "/v2/payments/{paymentId}/captures/{captureId}",
    "mollie-api-php/customer-list.json": "/v2/customers",
    "mollie-api-php/subscription-list.json": "/v2/subscriptions",
    "mollie-api-php/subscription.json": "/v2/customers/{customerId}/subscriptions/{subscriptionId}",
}


# Where the sandbox follows Mollie's examples over the description's schema, on purpose: each
# (JSON path pattern, keyword) here is explained in sandbox/README.md, "Where Mollie's spec and
# Mollie's examples disagree". Such violations are listed but do not fail the check.
DOCUMENTED: dict[tuple[str, str], str] = {
    (r"\.periods\[\*\]\[\*\]\.costs\[\*\]\.rate\.(percentage|fixed)$", "type"): (
        "a rate part that does not apply is null, as in every example of a settlement"
    ),
    (r"\['_embedded'\]\.(payments|refunds)\[\*\]\.status$", "enum"): (
        "a settlement lists a direct debit or refund that failed after it was swept with its"
        " current status, failed (sandbox/README.md, Objects that follow the ledger)"
    ),
}


@dataclass(frozen=True)
class Response:
    """One response the walk read: the operation's path template, the URL and the body."""

    template: str
    url: str
    status: int
    body: Any


# -- reading the API the way the extract does -------------------------------------------------


def _pages(http: httpx.Client, base: str, path: str, key: str, template: str, **params: Any):
    """Every page of a list, following `_links.next` as the extract does."""
    url: str | None = f"{base}{path}"
    query: dict[str, Any] | None = {"limit": PAGE, **params}
    while url:
        r = http.get(url, params=query)
        body = _json(r)
        yield Response(template, str(r.url), r.status_code, body)
        if r.status_code != 200 or not isinstance(body, dict):
            return
        nxt = (body.get("_links") or {}).get("next")
        url, query = (nxt.get("href") if isinstance(nxt, dict) else None), None


def _json(r: httpx.Response) -> Any:
    try:
        return r.json()
    except json.JSONDecodeError:
        return r.text


def _items(responses: list[Response], key: str) -> list[dict[str, Any]]:
    return [
        item
        for r in responses
        if r.status == 200 and isinstance(r.body, dict)
        for item in (r.body.get("_embedded") or {}).get(key) or []
    ]


def _day(timestamp: str) -> date:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).date()


def walk(http: httpx.Client, base: str) -> Iterator[Response]:
    """Every response the extract reads (and both report groupings), endpoint by endpoint."""
    r = http.get(f"{base}/organizations/me")
    yield Response("/v2/organizations/me", str(r.url), r.status_code, _json(r))

    profiles = list(_pages(http, base, "/profiles", "profiles", "/v2/profiles"))
    yield from profiles
    profile_ids = [p["id"] for p in _items(profiles, "profiles")]

    balances = list(_pages(http, base, "/balances", "balances", "/v2/balances"))
    yield from balances
    for balance in _items(balances, "balances"):
        bal = balance["id"]
        ledger = list(
            _pages(
                http,
                base,
                f"/balances/{bal}/transactions",
                "balance_transactions",
                "/v2/balances/{balanceId}/transactions",
            )
        )
        yield from ledger
        rows = _items(ledger, "balance_transactions")
        if not rows:
            continue
        # One day (as the extract reads them) and the month up to the newest row.
        last = _day(rows[0]["createdAt"])
        for start, end in ((last, last + timedelta(days=1)), (last - timedelta(days=30), last)):
            for grouping in ("status-balances", "transaction-categories"):
                params = {"from": start.isoformat(), "until": end.isoformat(), "grouping": grouping}
                r = http.get(f"{base}/balances/{bal}/report", params=params)
                yield Response(
                    "/v2/balances/{balanceId}/report", str(r.url), r.status_code, _json(r)
                )

    settlements = list(_pages(http, base, "/settlements", "settlements", "/v2/settlements"))
    yield from settlements
    for s in _items(settlements, "settlements"):
        sid = quote(s["id"])
        for kind in ("payments", "refunds", "chargebacks", "captures"):
            template = f"/v2/settlements/{{settlementId}}/{kind}"
            scopes = [{"profileId": p} for p in profile_ids] if kind == "payments" else [{}]
            for params in scopes:
                yield from _pages(
                    http, base, f"/settlements/{sid}/{kind}", kind, template, **params
                )

    yield from _pages(http, base, "/invoices", "invoices", "/v2/invoices")
    for kind in ("payments", "refunds"):
        for p in profile_ids:
            yield from _pages(http, base, f"/{kind}", kind, f"/v2/{kind}", profileId=p)
    for kind in ("chargebacks", "customers", "subscriptions"):
        yield from _pages(http, base, f"/{kind}", kind, f"/v2/{kind}")


def follow_self_links(
    spec: Spec, http: httpx.Client, base: str, responses: Iterator[Response], per_template: int
) -> Iterator[Response]:
    """The responses, and for up to `per_template` listed objects of each kind, the object as
    fetched alone through its `_links.self` (a get-by-id the extract does not make, but Mollie's
    SDKs do)."""
    templates = spec.get_templates()
    fetched: dict[str, int] = defaultdict(int)
    for r in responses:
        yield r
        embedded = (r.body.get("_embedded") if isinstance(r.body, dict) else None) or {}
        for items in embedded.values():
            for item in items if isinstance(items, list) else []:
                href = ((item.get("_links") or {}).get("self") or {}).get("href", "")
                if not href.startswith(base):
                    continue
                path = "/v2" + href[len(base) :].split("?")[0]
                template = next((t for t, rx in templates if rx.fullmatch(path)), None)
                if template is None or fetched[template] >= per_template:
                    continue
                fetched[template] += 1
                got = http.get(href)
                yield Response(template, str(got.url), got.status_code, _json(got))


def check_responses(
    spec: Spec, responses: Iterator[Response], label: str
) -> tuple[list[Violation], int]:
    found: list[Violation] = []
    count = 0
    for r in responses:
        count += 1
        if r.status != 200:
            found.append(Violation(r.template, "$", "status", f"HTTP {r.status}: {r.body}", r.url))
            continue
        found += spec.check(r.template, r.body, r.template, f"{label} {r.url}")
    return found, count


TYPES_FIXTURE = Path(__file__).parents[1] / "tests/fixtures/mollie_balance_transaction_types.txt"


def description_only_types() -> set[str]:
    """Balance-transaction types the description's prose names but its enum lacks."""
    lines = TYPES_FIXTURE.read_text(encoding="utf-8").splitlines()
    rows = [line.split("\t") for line in lines if line and not line.startswith("#")]
    return {name for name, source in rows if source == "description"}


def documented(v: Violation) -> str | None:
    """Why the sandbox answers this way on purpose, if it is a documented disagreement."""
    if (
        v.rule == "enum"
        and v.path.endswith((".type", ".transactionType"))
        and any(v.message.startswith(f"{t!r} ") for t in description_only_types())
    ):
        return "a type the description's prose names and its enum lacks"
    for (pattern, rule), why in DOCUMENTED.items():
        if rule == v.rule and re.search(pattern, v.path):
            return why
    return None


def report(title: str, violations: list[Violation], out=sys.stdout) -> None:
    """Violations grouped by endpoint, JSON path, keyword and whether they are documented."""
    groups: dict[str, dict[tuple[str, str, str], list[Violation]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for v in violations:
        groups[v.source][(v.path, v.rule, documented(v) or "")].append(v)
    undocumented = sum(documented(v) is None for v in violations)
    print(f"== {title}: {len(violations)} violation(s), {undocumented} not documented", file=out)
    for source in sorted(groups):
        print(f"  {source}", file=out)
        for (path, rule, known), vs in sorted(groups[source].items()):
            mark = f"  (documented: {known})" if known else ""
            print(f"    {path}  [{rule}] x{len(vs)}: {vs[0].message}{mark}", file=out)
            print(f"      e.g. {vs[0].where}", file=out)


def _world_config(args: argparse.Namespace, seed: int):
    from sandbox.generate import SandboxConfig

    config = SandboxConfig.from_cli(seed=seed, payments=args.payments, days=args.days, now=args.now)
    names = {f.name for f in fields(config)}
    flags = {}
    for flag in args.world:
        if flag not in names:
            raise SystemExit(f"SandboxConfig has no field {flag!r} (it has: {sorted(names)})")
        flags[flag] = True
    return replace(config, **flags)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("spec", type=Path, help="path of Mollie's OpenAPI description (specs.yaml)")
    parser.add_argument("--seed", type=int, action="append", help="sandbox seed (repeatable; 7, 9)")
    parser.add_argument("--payments", type=int, default=600, help="sandbox payments (600)")
    parser.add_argument("--days", type=int, default=45, help="sandbox days of history (45)")
    parser.add_argument("--now", default="2026-11-01T00:00:00Z", help="the sandbox's now")
    parser.add_argument(
        "--world",
        action="append",
        default=[],
        metavar="FLAG",
        help="turn on a boolean SandboxConfig field (e.g. every_type, platform); repeatable",
    )
    parser.add_argument(
        "--base-url",
        help="check this API root (…/v2) instead of the sandbox, with the organization token "
        "in MOLLIE_ACCESS_TOKEN",
    )
    parser.add_argument(
        "--objects",
        type=int,
        default=0,
        metavar="N",
        help="also fetch up to N listed objects of each kind alone (self link) and check them",
    )
    parser.add_argument("--examples", action="store_true", help="also check the spec's examples")
    parser.add_argument("--samples", type=Path, help="also check Mollie's SDK fixtures in DIR")
    args = parser.parse_args(argv)

    spec = Spec(args.spec)
    failed = False
    if args.base_url:
        token = os.environ.get("MOLLIE_ACCESS_TOKEN", "")
        if not token:
            raise SystemExit("--base-url needs the organization token in MOLLIE_ACCESS_TOKEN")
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
            base = args.base_url.rstrip("/")
            responses = follow_self_links(spec, http, base, walk(http, base), args.objects)
            found, n = check_responses(spec, responses, args.base_url)
        report(f"{args.base_url} ({n} responses)", found)
        failed = any(documented(v) is None for v in found)
    else:
        from sandbox.server import DEFAULT_ACCESS_TOKEN, SandboxServer

        for seed in args.seed or [7, 9]:
            config = _world_config(args, seed)
            label = f"seed {seed}" + "".join(f" +{w}" for w in args.world)
            with (
                SandboxServer(config) as server,
                httpx.Client(
                    headers={"Authorization": f"Bearer {DEFAULT_ACCESS_TOKEN}"}, timeout=60
                ) as http,
            ):
                base = server.base_url
                responses = follow_self_links(spec, http, base, walk(http, base), args.objects)
                found, n = check_responses(spec, responses, label)
            report(f"sandbox {label} ({n} responses)", found)
            failed |= any(documented(v) is None for v in found)

    if args.examples:
        found = []
        for template in sorted({*SAMPLE_OPERATIONS.values(), *_READ_BY_EXTRACT}):
            for name, value in spec.examples(template):
                found += spec.check(template, value, f"example {template}", name)
        report("the spec's own examples", found)
    if args.samples:
        found = []
        for name, template in SAMPLE_OPERATIONS.items():
            file = args.samples / name
            if file.exists():
                body = json.loads(file.read_text(encoding="utf-8"))
                # The PHP SDK's fixtures are templates: `{{ RESOURCE_ID }}` stands for an id.
                found += [
                    v
                    for v in spec.check(template, body, f"sample {name}", template)
                    if "{{ RESOURCE_ID }}" not in v.message
                ]
        report(f"Mollie's SDK fixtures in {args.samples}", found)
    return 1 if failed else 0


# The operations `walk` reads, for `--examples`.
_READ_BY_EXTRACT = (
    "/v2/organizations/me",
    "/v2/profiles",
    "/v2/balances",
    "/v2/balances/{balanceId}/transactions",
    "/v2/balances/{balanceId}/report",
    "/v2/settlements",
    "/v2/settlements/{settlementId}/payments",
    "/v2/settlements/{settlementId}/refunds",
    "/v2/settlements/{settlementId}/chargebacks",
    "/v2/settlements/{settlementId}/captures",
    "/v2/invoices",
    "/v2/payments",
    "/v2/refunds",
    "/v2/chargebacks",
    "/v2/customers",
    "/v2/subscriptions",
)


if __name__ == "__main__":
    sys.exit(main())
