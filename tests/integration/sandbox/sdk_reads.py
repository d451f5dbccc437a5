"""What each of Mollie's Python SDKs reads from every endpoint the extract reads.

Both readers return {(endpoint, parameters): [ids in order]}, so the two SDKs can be compared
read for read. The hand-written mollie-api-python's objects are read property by property.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from mollie.api.client import Client
from mollie.api.objects.balance import Balance
from mollie.api.objects.balance_report import BalanceReport
from mollie.api.objects.balance_transaction import BalanceTransaction
from mollie.api.objects.capture import Capture
from mollie.api.objects.chargeback import Chargeback
from mollie.api.objects.customer import Customer
from mollie.api.objects.invoice import Invoice
from mollie.api.objects.organization import Organization
from mollie.api.objects.payment import Payment
from mollie.api.objects.profile import Profile
from mollie.api.objects.refund import Refund
from mollie.api.objects.settlement import Settlement
from mollie.api.objects.subscription import Subscription
from mollie.sdk import ClientSDK

SUBLISTS = ("payments", "refunds", "chargebacks", "captures")
GROUPINGS = ("status-balances", "transaction-categories")

Reads = dict[tuple[str, str], list[str]]


def speakeasy_pages(response: Any, key: str) -> list[Any]:
    out = []
    while response is not None:
        out.extend(getattr(response.result.embedded, key))
        response = response.next()
    return out


def read_with_speakeasy(sdk: ClientSDK, windows: list[tuple[str, str]]) -> Reads:
    reads: Reads = {}

    def ids(endpoint: str, params: str, objs: list[Any]) -> None:
        reads[(endpoint, params)] = [o.id for o in objs]

    org = sdk.organizations.get_current()
    reads[("/organizations/me", "")] = [org.id]
    profiles = speakeasy_pages(sdk.profiles.list(limit=250), "profiles")
    ids("/profiles", "", profiles)
    balances = speakeasy_pages(sdk.balances.list(limit=250), "balances")
    ids("/balances", "", balances)
    for b in balances:
        rows = speakeasy_pages(
            sdk.balances.list_transactions(balance_id=b.id, limit=250), "balance_transactions"
        )
        ids("/balances/{id}/transactions", b.id, rows)
        for start, end in windows:
            for grouping in GROUPINGS:
                report = sdk.balances.get_report(
                    balance_id=b.id, from_=start, until=end, grouping=grouping
                )
                key = ("/balances/{id}/report", f"{b.id} {start} {end} {grouping}")
                reads[key] = [
                    report.balance_id,
                    getattr(report.grouping, "value", report.grouping),
                    report.from_,
                ]
    settlements = speakeasy_pages(sdk.settlements.list(limit=250), "settlements")
    ids("/settlements", "", settlements)
    sublists: dict[str, Callable[..., Any]] = {
        "payments": sdk.settlements.list_payments,
        "refunds": sdk.settlements.list_refunds,
        "chargebacks": sdk.settlements.list_chargebacks,
        "captures": sdk.settlements.list_captures,
    }
    for s in settlements:
        for kind, call in sublists.items():
            scopes = [p.id for p in profiles] if kind == "payments" else [None]
            for pid in scopes:
                extra = {"profile_id": pid} if pid else {}
                got = speakeasy_pages(call(settlement_id=s.id, limit=250, **extra), kind)
                ids(f"/settlements/{{id}}/{kind}", f"{s.id} {pid or ''}", got)
    ids("/invoices", "", speakeasy_pages(sdk.invoices.list(limit=250), "invoices"))
    for p in profiles:
        got = speakeasy_pages(sdk.payments.list(limit=250, profile_id=p.id), "payments")
        ids("/payments", p.id, got)
        ids(
            "/refunds",
            p.id,
            speakeasy_pages(sdk.refunds.all(limit=250, profile_id=p.id), "refunds"),
        )
    ids("/chargebacks", "", speakeasy_pages(sdk.chargebacks.all(limit=250), "chargebacks"))
    ids("/customers", "", speakeasy_pages(sdk.customers.list(limit=250), "customers"))
    ids("/subscriptions", "", speakeasy_pages(sdk.subscriptions.all(limit=250), "subscriptions"))
    return reads


def legacy_pages(page: Any) -> list[Any]:
    out = []
    while True:
        out.extend(page)
        if not page.has_next():
            return out
        page = page.get_next()


# Properties of mollie-api-python that fail on a value Mollie's description allows: (class,
# property) -> the JSON key that is null then. Reading them is skipped only when that key is null.
LEGACY_SDK_LIMITS = {
    # `int(times)`: a subscription without an end has `times: null` and `timesRemaining: null`
    # (the description types both integer or null); the legacy SDK's own fixtures only hold
    # subscriptions with `times: 4`.
    ("Subscription", "times"): "times",
    ("Subscription", "times_remaining"): "timesRemaining",
}


def read_property(obj: Any, cls: type, name: str) -> None:
    key = LEGACY_SDK_LIMITS.get((cls.__name__, name))
    if key is not None and obj.get(key, None) is None:
        return
    getattr(obj, name)


def read_legacy_object(obj: Any, cls: type) -> Any:
    """Read every property and status helper of a legacy SDK object; its id."""
    assert type(obj) is cls, f"{type(obj).__name__} where {cls.__name__} was expected"
    for name, member in inspect.getmembers(cls):
        if isinstance(member, property):
            read_property(obj, cls, name)
        elif name.startswith(("is_", "has_")) and callable(member):
            assert isinstance(getattr(obj, name)(), bool), f"{cls.__name__}.{name}()"
    return obj.get("id")


def read_with_legacy(client: Client, windows: list[tuple[str, str]]) -> Reads:
    reads: Reads = {}

    def ids(endpoint: str, params: str, objs: list[Any], cls: type) -> None:
        reads[(endpoint, params)] = [read_legacy_object(x, cls) for x in objs]

    org = client.organizations.get("me")
    reads[("/organizations/me", "")] = [read_legacy_object(org, Organization)]
    profiles = legacy_pages(client.profiles.list(limit=250))
    ids("/profiles", "", profiles, Profile)
    balances = legacy_pages(client.balances.list(limit=250))
    ids("/balances", "", balances, Balance)
    for b in balances:
        rows = legacy_pages(b.get_transactions(limit=250))
        ids("/balances/{id}/transactions", b.id, rows, BalanceTransaction)
        for start, end in windows:
            for grouping in GROUPINGS:
                report = b.get_report(**{"from": start, "until": end, "grouping": grouping})
                read_legacy_object(report, BalanceReport)
                key = ("/balances/{id}/report", f"{b.id} {start} {end} {grouping}")
                reads[key] = [report.balance_id, report.grouping, report.from_]
    settlements = legacy_pages(client.settlements.list(limit=250))
    ids("/settlements", "", settlements, Settlement)
    classes = {
        "payments": Payment,
        "refunds": Refund,
        "chargebacks": Chargeback,
        "captures": Capture,
    }
    for s in settlements:
        for kind in SUBLISTS:
            scopes = [p.id for p in profiles] if kind == "payments" else [None]
            for pid in scopes:
                extra = {"profileId": pid} if pid else {}
                got = legacy_pages(getattr(s, kind).list(limit=250, **extra))
                ids(f"/settlements/{{id}}/{kind}", f"{s.id} {pid or ''}", got, classes[kind])
    ids("/invoices", "", legacy_pages(client.invoices.list(limit=250)), Invoice)
    for p in profiles:
        got = legacy_pages(client.payments.list(limit=250, profileId=p.id))
        ids("/payments", p.id, got, Payment)
        got = legacy_pages(client.refunds.list(limit=250, profileId=p.id))
        ids("/refunds", p.id, got, Refund)
    ids("/chargebacks", "", legacy_pages(client.chargebacks.list(limit=250)), Chargeback)
    ids("/customers", "", legacy_pages(client.customers.list(limit=250)), Customer)
    ids("/subscriptions", "", legacy_pages(client.subscriptions.list(limit=250)), Subscription)
    return reads
