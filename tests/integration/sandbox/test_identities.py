"""Every reconciliation identity of docs/design.md holds on the sandbox's data, read over HTTP.

The sandbox is only useful if its books are internally consistent to the cent, so these tests read
it exactly as the pipeline will (real HTTP, paginated lists, amounts parsed as Decimal) and check
each identity from the *served* objects, at two seeds. Identity 8 (bank deposits) is checked
against the CAMT.053 statement the sandbox writes, once that exists (transforms issue).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import httpx
import pytest

from sandbox.generate import SandboxConfig
from sandbox.server import DEFAULT_ACCESS_TOKEN, SandboxServer

AMS = ZoneInfo("Europe/Amsterdam")


def money(obj: dict | None) -> Decimal:
    return Decimal(obj["value"]) if obj else Decimal(0)


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


class Api:
    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {DEFAULT_ACCESS_TOKEN}"}
        )
        self.base = base_url

    def get(self, path: str, **params) -> dict:
        r = self.http.get(path, params=params)
        r.raise_for_status()
        return r.json()

    def walk(self, path: str, key: str, **params) -> list[dict]:
        items: list[dict] = []
        url: str | None = f"{self.base}{path}"
        first = True
        while url:
            r = self.http.get(url, params={"limit": 250, **params} if first else None)
            r.raise_for_status()
            body = r.json()
            items.extend(body["_embedded"][key])
            url = (body["_links"].get("next") or {}).get("href")
            first = False
        return items


@pytest.fixture(scope="module", params=[(7, False), (42, False), (7, True)], ids=str)
def books(request):
    seed, every_type = request.param
    config = SandboxConfig.from_cli(
        seed=seed, payments=1500, days=75, now="2026-11-01T00:00:00Z", every_type=every_type
    )
    with SandboxServer(config) as server:
        api = Api(server.base_url)
        balances = api.walk("/balances", "balances")
        data = {
            "api": api,
            "balances": balances,
            "ledger": {
                b["id"]: api.walk(f"/balances/{b['id']}/transactions", "balance_transactions")
                for b in balances
            },
            "settlements": api.walk("/settlements", "settlements"),
            "payments": api.walk("/payments", "payments"),
            "invoices": api.walk("/invoices", "invoices"),
        }
        data["sub"] = {
            s["id"]: {
                k: api.walk(f"/settlements/{s['id']}/{k}", k)
                for k in ("payments", "refunds", "chargebacks", "captures")
            }
            for s in data["settlements"]
        }
        yield data


def all_rows(books) -> list[dict]:
    return [row for rows in books["ledger"].values() for row in rows]


def test_books_are_not_trivial(books):
    types = Counter(r["type"] for r in all_rows(books))
    for t in (
        "payment",
        "refund",
        "chargeback",
        "outgoing-transfer",
        "invoice-compensation",
        "capture",
    ):
        assert types[t] > 0, f"no {t} rows: the identities would be tested on nothing"
    assert len(books["settlements"]) > 10 and len(books["invoices"]) >= 2


def test_identity_1_result_is_initial_plus_deductions(books):
    for r in all_rows(books):
        assert money(r["resultAmount"]) == money(r["initialAmount"]) + money(r["deductions"]), r[
            "id"
        ]


def test_identity_2_payout_moves_minus_amount(books):
    transfers = {
        r["context"]["settlementId"]: r for r in all_rows(books) if r["type"] == "outgoing-transfer"
    }
    for s in books["settlements"]:
        assert s["status"] in ("pending", "paidout", "failed")
        assert money(transfers[s["id"]]["resultAmount"]) == -money(s["amount"]), s["id"]
    assert len(transfers) == len(books["settlements"])


def swept_rows(books, settlement: dict, previous_payout: datetime | None) -> list[dict]:
    """The ledger rows a settlement swept, found the way the pipeline must find them.

    Rows tied to a listed payment/refund/chargeback/capture by their context ids, plus every
    other row but payouts (all immediately available: reversals, returned refunds and payouts,
    invoice compensations, corrections, …) created in the settlement's window (after the
    previous payout of its balance, up to its own).
    """
    sub = books["sub"][settlement["id"]]
    pays = {p["id"] for p in sub["payments"]}
    refunds = {r["id"] for r in sub["refunds"]}
    cbs = {c["id"] for c in sub["chargebacks"]}
    at = ts(settlement["settledAt"])
    out = []
    for r in books["ledger"][settlement["balanceId"]]:
        ctx, t = r["context"] or {}, r["type"]
        if t in ("payment", "capture") and ctx.get("paymentId") in pays:
            out.append(r)
        elif t == "refund" and ctx.get("refundId") in refunds:
            out.append(r)
        elif t == "chargeback" and ctx.get("chargebackId") in cbs:
            out.append(r)
        elif t not in ("payment", "capture", "refund", "chargeback", "outgoing-transfer"):
            created = ts(r["createdAt"])
            if created <= at and (previous_payout is None or created > previous_payout):
                out.append(r)
    return out


def settlements_with_windows(books):
    by_balance = defaultdict(list)
    for s in books["settlements"]:
        by_balance[s["balanceId"]].append(s)
    for group in by_balance.values():
        group.sort(key=lambda s: ts(s["settledAt"]))
        previous = None
        for s in group:
            yield s, previous
            previous = ts(s["settledAt"])


def test_identity_3_settlement_is_net_of_swept_ledger_rows(books):
    for s, previous in settlements_with_windows(books):
        rows = swept_rows(books, s, previous)
        assert sum(money(r["resultAmount"]) for r in rows) == money(s["amount"]), s["reference"]


def test_identity_4_periods_differ_from_amount_only_by_fee_rounding(books):
    """Σ revenue − Σ costs = amount, up to what per-transaction rounding of fees explains.

    Mollie prices a period's fee line as rate × count at 4 decimals, while each deduction on the
    ledger was rounded to cents: per transaction the two differ by at most half a cent. Lines
    without a rate (reserve, repayments, commissions, invoice compensation) are exact.
    """
    differing = 0
    for s in books["settlements"]:
        total, bound = Decimal(0), Decimal(0)
        for months in s["periods"].values():
            for period in months.values():
                total += sum(money(line["amountGross"]) for line in period["revenue"])
                total -= sum(money(line["amountGross"]) for line in period["costs"])
                for line in period["costs"]:
                    assert money(line["amountNet"]) + money(line["amountVat"]) == money(
                        line["amountGross"]
                    )
                    if line["rate"].get("fixed") is not None:
                        bound += Decimal("0.005") * line["count"]
        difference = total - money(s["amount"])
        assert abs(difference) <= bound, s["reference"]
        differing += difference != 0
    assert differing, "periods always tie to the cent: Mollie's rounding is not modelled"


def test_identity_5_membership(books):
    listed = Counter((s_id, p["id"]) for s_id, sub in books["sub"].items() for p in sub["payments"])
    assert all(n == 1 for n in listed.values())
    ledger_payments = Counter(
        r["context"]["paymentId"] for r in all_rows(books) if r["type"] in ("payment", "capture")
    )
    settled = [p for p in books["payments"] if p["status"] == "paid" and p.get("settlementId")]
    assert settled
    for p in settled:
        assert listed[(p["settlementId"], p["id"])] == 1, p["id"]
        assert ledger_payments[p["id"]] == 1, p["id"]
    claimed = Counter(
        r["id"] for s, prev in settlements_with_windows(books) for r in swept_rows(books, s, prev)
    )
    assert claimed and max(claimed.values()) == 1


@pytest.mark.parametrize(
    "window",
    [("2026-09-01", "2026-10-01"), ("2026-10-07", "2026-10-08"), ("2026-08-20", "2026-11-02")],
)
def test_identity_6_balance_report_open_plus_movements_is_close(books, window):
    api = books["api"]
    for b in books["balances"]:
        rep = api.get(
            f"/balances/{b['id']}/report",
            **{"from": window[0], "until": window[1], "grouping": "status-balances"},
        )
        pend, avail = rep["totals"]["pendingBalance"], rep["totals"]["availableBalance"]
        assert (
            money(pend["open"]["amount"])
            + money(pend["pending"]["amount"])
            - money(pend["movedToAvailable"]["amount"])
        ) == money(pend["close"]["amount"])
        assert (
            money(avail["open"]["amount"])
            + money(avail["movedFromPending"]["amount"])
            + money(avail["immediatelyAvailable"]["amount"])
        ) == money(avail["close"]["amount"])
        for group in (pend["pending"], pend["movedToAvailable"], avail["immediatelyAvailable"]):
            assert sum(money(s["amount"]) for s in group["subtotals"]) == money(group["amount"])


def test_identity_6_report_close_is_the_live_balance(books):
    """The report up to and including today closes at the balance's own amounts."""
    api = books["api"]
    for b in books["balances"]:
        rep = api.get(
            f"/balances/{b['id']}/report",
            **{"from": "2026-01-01", "until": "2026-11-02", "grouping": "status-balances"},
        )
        totals = rep["totals"]
        assert money(totals["availableBalance"]["close"]["amount"]) == money(b["availableAmount"])
        assert money(totals["pendingBalance"]["close"]["amount"]) == money(b["pendingAmount"])


def test_identity_7_fee_deductions_equal_the_fee_invoice(books):
    """Σ fees deducted in a month − what Mollie gives back or takes on the invoice = its gross."""
    fees: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    compensation: dict[str, Decimal] = defaultdict(Decimal)
    for r in all_rows(books):
        month = ts(r["createdAt"]).astimezone(AMS).strftime("%Y-%m")
        fees[(r["resultAmount"]["currency"], month)] += -money(
            (r["deductionDetails"] or {}).get("fees")
        )
        if r["type"] in ("invoice-compensation", "invoice-rounding-compensation"):
            compensation[r["context"]["invoiceId"]] += money(r["resultAmount"])
    for inv in books["invoices"]:
        period = inv["lines"][0]["period"]
        assert {line["period"] for line in inv["lines"]} == {period}
        assert sum(money(line["amount"]) for line in inv["lines"]) == money(inv["netAmount"])
        assert money(inv["netAmount"]) + money(inv["vatAmount"]) == money(inv["grossAmount"])
        ledger_fees = fees[(inv["grossAmount"]["currency"], period)]
        assert ledger_fees - compensation[inv["id"]] == money(inv["grossAmount"]), inv["reference"]
    assert any(compensation.values()), "no rounding compensation at all: rounding is not modelled"


def test_deduction_details_add_up_to_deductions(books):
    parts = ("fees", "reservations", "repayments", "commissions")
    for r in all_rows(books):
        details = r["deductionDetails"]
        if r["deductions"] is None:
            assert details is None, r["id"]
            continue
        assert set(details) <= set(parts) and all(money(v) < 0 for v in details.values())
        assert sum(money(v) for v in details.values()) == money(r["deductions"]), r["id"]


def test_identity_6_both_groupings_add_up(books):
    """transaction-categories: open + every category's movements = close, per status."""
    api = books["api"]
    for b in books["balances"]:
        rep = api.get(
            f"/balances/{b['id']}/report",
            **{"from": "2026-09-01", "until": "2026-10-01", "grouping": "transaction-categories"},
        )
        assert rep["until"] == "2026-09-30"  # the last day covered, as Mollie answers
        t = rep["totals"]
        pending = money(t["open"]["pending"]["amount"])
        available = money(t["open"]["available"]["amount"])
        for name, section in t.items():
            if name in ("open", "close"):
                continue
            moved = money((section.get("movedToAvailable") or {}).get("amount"))
            pending += money((section.get("pending") or {}).get("amount")) - moved
            available += moved + money((section.get("immediatelyAvailable") or {}).get("amount"))
        assert pending == money(t["close"]["pending"]["amount"])
        assert available == money(t["close"]["available"]["amount"])
        status = api.get(
            f"/balances/{b['id']}/report",
            **{"from": "2026-09-01", "until": "2026-10-01", "grouping": "status-balances"},
        )["totals"]
        assert money(status["pendingBalance"]["close"]["amount"]) == pending
        assert money(status["availableBalance"]["close"]["amount"]) == available


def test_paid_out_settlements_have_bank_references(books):
    import re

    refs = [s["reference"] for s in books["settlements"]]
    assert all(re.fullmatch(r"\d{4,}\.\d{4}\.\d{2}", r) for r in refs)
    assert len(set(refs)) == len(refs)
    assert all(
        date.fromisoformat(s["settledAt"][:10]) <= date(2026, 11, 1) for s in books["settlements"]
    )
