"""Alerts: what a sensor found, formatted for people, sent to a webhook (or logged).

An alert says what happened, how much (counts, amounts per currency), which objects (the first
few ids and how many in all) and where to look (the table or check, and a link into the Dagster
UI when DAGSTER_WEBSERVER_URL is set). It is POSTed as Slack-compatible JSON (`text` for
notifications and plain receivers, `blocks` for Slack) to MOLLIE_LEDGER_ALERT_WEBHOOK_URL; with
no URL configured it is logged instead, so a fresh setup still shows what would have been sent.

Nothing secret or personal goes out: objects are Mollie ids (never names, emails or IBANs), and
free text (a run's error message) passes `scrub()` first. The webhook URL itself is a secret
(Slack's carries a token), so it never appears in a log line or an error.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

import httpx

log = logging.getLogger("mollie_ledger.alerts")

ENV_WEBHOOK_URL = "MOLLIE_LEDGER_ALERT_WEBHOOK_URL"
ENV_WEBSERVER_URL = "DAGSTER_WEBSERVER_URL"
MAX_IDS = 5  # ids listed per group; the count says how many there are
MAX_GROUPS = 20  # Slack allows 50 blocks; an alert with more groups says "and N more"
MAX_DETAIL = 300  # characters of free text per group
TIMEOUT_SECONDS = 10.0

_SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|API_KEY|PII_KEY|WEBHOOK_URL", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")


class AlertDeliveryError(RuntimeError):
    """The webhook did not take the alert (the sensor tick fails and tries again next tick)."""


@dataclass(frozen=True)
class Item:
    """One thing to alert about: `key` identifies it across ticks (not sent twice)."""

    key: str
    group: str  # what kind: a check name, an anomaly reason, a priority, a severity
    object_id: str  # a Mollie id (or a table/check name), never personal data
    currency: str | None = None
    amount: Decimal | None = None


@dataclass(frozen=True)
class Group:
    label: str
    count: int
    amounts: tuple[tuple[str, Decimal], ...] = ()  # per currency
    object_ids: tuple[str, ...] = ()  # the first MAX_IDS
    detail: str = ""


@dataclass(frozen=True)
class Alert:
    what: str  # the headline: what happened
    where: str  # the table / check / run to look at
    groups: tuple[Group, ...]
    ui_path: str = ""  # a path in the Dagster UI, e.g. /assets/marts/chargeback_cases
    amount_label: str = "amount"
    unit: tuple[str, str] = ("item", "items")  # what is counted: singular, plural

    @property
    def total(self) -> int:
        return sum(g.count for g in self.groups)

    @property
    def headline(self) -> str:
        return f"{self.what}: {self.total} {self.unit[self.total != 1]}"


def group_items(
    items: Iterable[Item], aggregate: Literal["sum", "min"] = "sum"
) -> tuple[Group, ...]:
    """Items by group (in order of first appearance): count, amount per currency, first ids."""
    grouped: dict[str, list[Item]] = {}
    for item in items:
        grouped.setdefault(item.group, []).append(item)
    groups = []
    for label, members in grouped.items():
        amounts: dict[str, Decimal] = {}
        for m in members:
            if m.amount is None:
                continue
            currency = m.currency or "?"
            if currency not in amounts:
                amounts[currency] = m.amount
            elif aggregate == "sum":
                amounts[currency] += m.amount
            else:
                amounts[currency] = min(amounts[currency], m.amount)
        groups.append(
            Group(
                label=label,
                count=len(members),
                amounts=tuple(sorted(amounts.items())),
                object_ids=tuple(m.object_id for m in members[:MAX_IDS]),
            )
        )
    return tuple(groups)


def scrub(text: str) -> str:
    """Free text made safe to send: secret env values, emails and IBANs masked; shortened."""
    for name, value in os.environ.items():
        if value and len(value) >= 6 and _SECRET_NAME.search(name):
            text = text.replace(value, "***")
    text = _IBAN.sub("[iban]", _EMAIL.sub("[email]", text))
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 1] + "…"


def ui_url(path: str) -> str | None:
    """The Dagster UI link for `path`, when DAGSTER_WEBSERVER_URL says where the UI is."""
    base = (os.environ.get(ENV_WEBSERVER_URL) or "").strip().rstrip("/")
    return f"{base}{path}" if base and path else None


def _amounts(group: Group, label: str) -> str:
    if not group.amounts:
        return ""
    return f"{label} " + ", ".join(f"{currency} {amount}" for currency, amount in group.amounts)


def _objects(group: Group) -> str:
    more = group.count - len(group.object_ids)
    return ", ".join(group.object_ids) + (f" (+{more} more)" if more > 0 else "")


def _group_line(group: Group, amount_label: str) -> str:
    parts = [f"{group.label}: {group.count}", _amounts(group, amount_label), group.detail]
    return " · ".join(p for p in parts if p)


def format_text(alert: Alert) -> str:
    """The alert as plain text (the `text` of the message, and the log line without a URL)."""
    lines = [alert.headline]
    for group in alert.groups[:MAX_GROUPS]:
        lines.append(f"• {_group_line(group, alert.amount_label)}")
        if group.object_ids:
            lines.append(f"  objects: {_objects(group)}")
    if len(alert.groups) > MAX_GROUPS:
        lines.append(f"• and {len(alert.groups) - MAX_GROUPS} more groups")
    link = ui_url(alert.ui_path)
    lines.append(f"Where to look: {alert.where}" + (f" · {link}" if link else ""))
    return "\n".join(lines)


def _mrkdwn(text: str) -> str:
    """Slack's three control characters, escaped (ids and labels are then shown literally)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def format_slack(alert: Alert) -> dict:
    """Slack-compatible JSON: `text` (fallback/notification) and `blocks`."""
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": alert.headline[:150]}},
    ]
    for group in alert.groups[:MAX_GROUPS]:
        text = f"*{_mrkdwn(_group_line(group, alert.amount_label))}*"
        if group.object_ids:
            text += "\n" + ", ".join(f"`{_mrkdwn(i)}`" for i in group.object_ids)
            more = group.count - len(group.object_ids)
            text += f" (+{more} more)" if more > 0 else ""
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}})
    if len(alert.groups) > MAX_GROUPS:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"and {len(alert.groups) - MAX_GROUPS} more"},
            }
        )
    where = f"Where to look: {_mrkdwn(alert.where)}"
    link = ui_url(alert.ui_path)
    if link:
        where += f" · <{link}|open in Dagster>"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": where}]})
    return {"text": format_text(alert), "blocks": blocks}


def send(alert: Alert, url: str | None = None) -> bool:
    """POST the alert to the webhook; True when sent, False when only logged (no URL set).

    Raises AlertDeliveryError when the webhook refuses or cannot be reached; the message names
    the status or the error type, never the URL.
    """
    url = url or (os.environ.get(ENV_WEBHOOK_URL) or "").strip()
    if not url:
        log.warning("alert (no %s set, so logged only):\n%s", ENV_WEBHOOK_URL, format_text(alert))
        return False
    try:
        response = httpx.post(url, json=format_slack(alert), timeout=TIMEOUT_SECONDS)
    except httpx.HTTPError as exc:
        raise AlertDeliveryError(
            f"could not reach the alert webhook ({ENV_WEBHOOK_URL}): {type(exc).__name__}"
        ) from None
    if response.status_code >= 300:
        raise AlertDeliveryError(
            f"the alert webhook ({ENV_WEBHOOK_URL}) answered HTTP {response.status_code}"
        )
    log.info("alert sent: %s (%d)", alert.what, alert.total)
    return True
