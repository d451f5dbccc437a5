"""Alert formatting: what, how much, which objects, where to look; nothing secret or personal."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from reporting import alerts
from reporting.alerts import Alert, Group, Item, format_slack, format_text, group_items, scrub


def findings(n: int) -> list[Item]:
    return [
        Item(
            f"settlement_ledger_net:stl_{i}",
            "settlement_ledger_net",
            f"stl_{i}",
            "EUR",
            Decimal("0.10"),
        )
        for i in range(n)
    ] + [Item("fee_invoice:inv_1", "fee_invoice", "inv_1", "GBP", Decimal("1.005"))]


def an_alert(items: list[Item], **kwargs) -> Alert:
    return Alert(
        what="New reconciliation findings (severity error)",
        where="marts.reconciliation_exceptions",
        groups=group_items(items, **kwargs),
        ui_path="/assets/marts/reconciliation_exceptions",
        amount_label="Σ |difference|",
        unit=("finding", "findings"),
    )


def test_groups_count_sum_exactly_and_keep_the_first_ids():
    groups = group_items(findings(8))
    assert [g.label for g in groups] == ["settlement_ledger_net", "fee_invoice"]
    ledger = groups[0]
    assert ledger.count == 8
    assert ledger.amounts == (("EUR", Decimal("0.80")),)  # 8 × 0.10, exactly
    assert ledger.object_ids == ("stl_0", "stl_1", "stl_2", "stl_3", "stl_4")


def test_min_aggregate_per_currency():
    items = [
        Item("a", "negative_balance", "bal_1", "EUR", Decimal("-5.00")),
        Item("b", "negative_balance", "bal_2", "EUR", Decimal("-50.00")),
        Item("c", "negative_balance", "bal_3", "GBP", Decimal("-1.00")),
    ]
    (group,) = group_items(items, aggregate="min")
    assert group.amounts == (("EUR", Decimal("-50.00")), ("GBP", Decimal("-1.00")))


def test_text_says_what_how_much_which_and_where(monkeypatch):
    monkeypatch.setenv("DAGSTER_WEBSERVER_URL", "http://ops.example:3000/")
    text = format_text(an_alert(findings(8)))
    assert text.splitlines() == [
        "New reconciliation findings (severity error): 9 findings",
        "• settlement_ledger_net: 8 · Σ |difference| EUR 0.80",
        "  objects: stl_0, stl_1, stl_2, stl_3, stl_4 (+3 more)",
        "• fee_invoice: 1 · Σ |difference| GBP 1.005",
        "  objects: inv_1",
        "Where to look: marts.reconciliation_exceptions · "
        "http://ops.example:3000/assets/marts/reconciliation_exceptions",
    ]


def test_singular_and_no_link_without_a_webserver_url(monkeypatch):
    monkeypatch.delenv("DAGSTER_WEBSERVER_URL", raising=False)
    text = format_text(an_alert(findings(0)))
    assert text.splitlines()[0].endswith(": 1 finding")
    assert text.splitlines()[-1] == "Where to look: marts.reconciliation_exceptions"


def test_slack_payload_has_text_and_blocks(monkeypatch):
    monkeypatch.setenv("DAGSTER_WEBSERVER_URL", "http://ops.example:3000")
    payload = format_slack(an_alert(findings(2)))
    assert payload["text"] == format_text(an_alert(findings(2)))
    header, ledger, invoice, context = payload["blocks"]
    assert header == {
        "type": "header",
        "text": {
            "type": "plain_text",
            "text": "New reconciliation findings (severity error): 3 findings",
        },
    }
    assert ledger["text"]["text"] == (
        "*settlement_ledger_net: 2 · Σ |difference| EUR 0.20*\n`stl_0`, `stl_1`"
    )
    assert invoice["text"]["type"] == "mrkdwn"
    assert context["elements"][0]["text"] == (
        "Where to look: marts.reconciliation_exceptions · "
        "<http://ops.example:3000/assets/marts/reconciliation_exceptions|open in Dagster>"
    )


def test_slack_control_characters_are_escaped():
    alert = Alert(what="x", where="a <b> & c", groups=(Group("g<1>", 1, object_ids=("id&1",)),))
    blocks = format_slack(alert)["blocks"]
    assert "g&lt;1&gt;" in blocks[1]["text"]["text"] and "`id&amp;1`" in blocks[1]["text"]["text"]
    assert "a &lt;b&gt; &amp; c" in blocks[-1]["elements"][0]["text"]


def test_many_groups_are_cut_with_a_count():
    items = [Item(str(i), f"check_{i:02}", f"obj_{i}") for i in range(alerts.MAX_GROUPS + 3)]
    alert = an_alert(items)
    assert "• and 3 more groups" in format_text(alert)
    assert len(format_slack(alert)["blocks"]) == 1 + alerts.MAX_GROUPS + 1 + 1


def test_scrub_masks_secrets_emails_and_ibans(monkeypatch):
    monkeypatch.setenv("MOLLIE_ACCESS_TOKEN", "access_abcdef123456")
    monkeypatch.setenv("FRAPPE_API_SECRET", "s3cr3t-value")
    text = scrub(
        "GET failed with access_abcdef123456 and s3cr3t-value for piet@example.org, "
        "IBAN NL91 ABNA 0417 1643 00 / NL91ABNA0417164300"
    )
    assert "access_abcdef123456" not in text and "s3cr3t-value" not in text
    assert "piet@example.org" not in text and "[email]" in text
    assert "0417" not in text and text.count("[iban]") == 2
    assert len(scrub("x" * 1000)) == alerts.MAX_DETAIL


def test_send_without_url_logs_and_reports_not_sent(monkeypatch, caplog):
    monkeypatch.delenv("MOLLIE_LEDGER_ALERT_WEBHOOK_URL", raising=False)
    assert alerts.send(an_alert(findings(1))) is False
    assert "stl_0" in caplog.text and "MOLLIE_LEDGER_ALERT_WEBHOOK_URL" in caplog.text


def test_send_errors_never_show_the_url(monkeypatch):
    secret_url = "https://hooks.slack.test/services/T000/B000/XXXXSECRET"

    def refuse(url, **kwargs):
        raise httpx.ConnectError(f"cannot connect to {url}")

    monkeypatch.setattr(alerts.httpx, "post", refuse)
    with pytest.raises(alerts.AlertDeliveryError) as failed:
        alerts.send(an_alert(findings(1)), url=secret_url)
    assert "XXXXSECRET" not in str(failed.value) and "ConnectError" in str(failed.value)
