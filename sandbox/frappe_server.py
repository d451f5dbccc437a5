"""A Frappe/ERPNext TEST STAND-IN: Frappe's v1 REST contract for Journal Entry, over real HTTP.

This is NOT Frappe and NOT ERPNext. Frappe cannot run here, so the exporter's tests post to this
small server instead. It imitates the parts of Frappe v15 that mollie-ledger touches, as written
down in ../shared/docs/frappe-erpnext.md §B–§C (sources: frappe/frappe and frappe/erpnext):

- token auth (`Authorization: token <api_key>:<api_secret>`, or `Basic base64(key:secret)`);
  no header means Guest, which may do nothing (403); a wrong key or secret is 401;
- `/api/resource/<DocType>` and its `/api/v1/...` alias: insert a Journal Entry (`"docstatus": 1`
  inserts and submits in one call), read it, list with `filters` / `or_filters` / `fields` /
  `order_by` / `limit_start` / `limit_page_length`, `PUT` to save, submit or cancel, `DELETE`
  drafts and cancelled entries; read-only lists of Account, Company, Cost Center and
  Bank Transaction; `GET /api/method/frappe.auth.get_logged_user`;
- ERPNext's Journal Entry validations (§C.3) in Frappe's insert order: links → `validate()` →
  `before_submit` (balance) → mandatory fields → the database insert (unique custom field) →
  `on_submit` (reference number and date, closed period, disabled accounts, then the GL Entry
  checks: P&L cost centre, cost centre company and group, group account, account company);
- errors in Frappe's v1 envelope: `exc_type`, `exception` and `exc` (Frappe sends these only
  when System Settings allow tracebacks and the caller is a system user; on by default here),
  `_server_messages` (a JSON string of a list of JSON strings, each with `message`) whenever
  Frappe would have put something in its message log, `_error_message` for bare permission
  failures; HTTP status from the exception class (§B.4).

Where ERPNext is lenient in a way that would hide an exporter bug, the stand-in is stricter by
default (`strict=True`) and says so in the message: unknown fields are rejected (Frappe drops
them silently), amounts with more than 2 decimals are rejected (ERPNext rounds them half-even),
negative amounts are rejected (ERPNext moves them to the other side in the GL), and non-numeric
amounts are rejected (Frappe's `flt` reads them as 0). `strict=False` behaves like ERPNext there.

Not modelled: Customers and other masters beyond the chart (Link fields to them must be empty or
name a party listed in the chart), permissions beyond read/create/submit/cancel/delete, fiscal
years, budgets, credit limits, accounting dimensions, exchange-rate lookup (foreign-currency rows
must carry `exchange_rate`), the GL itself, and everything outside the routes above.

Test hooks: `fail_next()` answers the next matching requests with an injected error (nothing is
stored), `drop_response_after_insert()` stores the entry and then closes the connection without
an answer (the client cannot tell whether it was posted), `set_auth_broken()` makes every request
401, `set_permissions()` withholds create/submit/..., and `requests` logs every call.

    with FrappeTestServer() as frappe:
        httpx.post(f"{frappe.url}/api/resource/Journal Entry", json=entry,
                   headers={"Authorization": frappe.auth_header})
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import logging
import re
import secrets
import socket
import struct
import threading
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from extract.http_server import BackgroundHTTPService, TrackedHandler

log = logging.getLogger("sandbox.frappe_server")

# Test credentials, in the shape Frappe generates (15-character key and secret). Not secrets.
DEFAULT_API_KEY = "c0ffee5a1ad0b1e"
DEFAULT_API_SECRET = "7e57ab1e5ecre70"
DEFAULT_USER = "mollie-ledger@groenevork.example"
DEFAULT_COMPANY = "Vereniging Groene Vork"

# The unique custom field the exporter posts (DESIGN §5, frappe-erpnext.md §B.5).
POSTING_KEY_FIELD = "mollie_posting_key"
POSTING_KEY_LABEL = "Mollie Posting Key"

JE = "Journal Entry"
JEA = "Journal Entry Account"
NAMING_SERIES = "ACC-JV-.YYYY.-"
CENT = Decimal("0.01")
DATA_LENGTH = 140  # Frappe's varchar length for Data fields
PAGE_LENGTH = 20  # Frappe's default `limit_page_length`

# ---------------------------------------------------------------------------------------------
# Doctype schema: the fields this server accepts. Copied from
# ../shared/reference/erpnext/journal_entry{,_account}.json (layout fields left out); a test
# checks every name, type, label and option against those files so a typo cannot hide here.


@dataclass(frozen=True, slots=True)
class DocField:
    fieldtype: str
    label: str
    options: str = ""  # Link / Table target, or Select options joined by "\n" as in the JSON
    allow_on_submit: bool = False


def _select(*options: str) -> str:
    return "\n".join(options)


VOUCHER_TYPES = (
    "Journal Entry",
    "Inter Company Journal Entry",
    "Bank Entry",
    "Cash Entry",
    "Credit Card Entry",
    "Debit Note",
    "Credit Note",
    "Contra Entry",
    "Excise Entry",
    "Write Off Entry",
    "Opening Entry",
    "Depreciation Entry",
    "Exchange Rate Revaluation",
    "Exchange Gain Or Loss",
    "Deferred Revenue",
    "Deferred Expense",
    "Reversal Of ITC",
)
REFERENCE_TYPES = (
    "",
    "Sales Invoice",
    "Purchase Invoice",
    "Journal Entry",
    "Sales Order",
    "Purchase Order",
    "Expense Claim",
    "Asset",
    "Loan",
    "Payroll Entry",
    "Employee Advance",
    "Exchange Rate Revaluation",
    "Invoice Discounting",
    "Fees",
    "Full and Final Statement",
    "Payment Entry",
)

JOURNAL_ENTRY_FIELDS: dict[str, DocField] = {
    "title": DocField("Data", "Title", allow_on_submit=True),
    "voucher_type": DocField("Select", "Entry Type", _select(*VOUCHER_TYPES)),
    "naming_series": DocField("Select", "Series", NAMING_SERIES),
    "posting_date": DocField("Date", "Posting Date"),
    "company": DocField("Link", "Company", "Company"),
    "finance_book": DocField("Link", "Finance Book", "Finance Book"),
    "accounts": DocField("Table", "Accounting Entries", JEA),
    "cheque_no": DocField("Data", "Reference Number"),
    "cheque_date": DocField("Date", "Reference Date"),
    "user_remark": DocField("Small Text", "User Remark"),
    "total_debit": DocField("Currency", "Total Debit", "Company:company:default_currency"),
    "total_credit": DocField("Currency", "Total Credit", "Company:company:default_currency"),
    "difference": DocField("Currency", "Difference (Dr - Cr)", "Company:company:default_currency"),
    "multi_currency": DocField("Check", "Multi Currency"),
    "total_amount_currency": DocField("Link", "Total Amount Currency", "Currency"),
    "total_amount": DocField("Currency", "Total Amount", "total_amount_currency"),
    "total_amount_in_words": DocField("Data", "Total Amount in Words"),
    "clearance_date": DocField("Date", "Clearance Date"),
    "remark": DocField("Small Text", "Remark"),
    "paid_loan": DocField("Data", "Paid Loan"),
    "inter_company_journal_entry_reference": DocField(
        "Link", "Inter Company Journal Entry Reference", JE
    ),
    "bill_no": DocField("Data", "Bill No"),
    "bill_date": DocField("Date", "Bill Date"),
    "due_date": DocField("Date", "Due Date"),
    "write_off_based_on": DocField(
        "Select", "Write Off Based On", _select("Accounts Receivable", "Accounts Payable")
    ),
    "write_off_amount": DocField(
        "Currency", "Write Off Amount", "Company:company:default_currency"
    ),
    "pay_to_recd_from": DocField("Data", "Pay To / Recd From", allow_on_submit=True),
    "letter_head": DocField("Link", "Letter Head", "Letter Head", allow_on_submit=True),
    "select_print_heading": DocField(
        "Link", "Print Heading", "Print Heading", allow_on_submit=True
    ),
    "mode_of_payment": DocField("Link", "Mode of Payment", "Mode of Payment"),
    "payment_order": DocField("Link", "Payment Order", "Payment Order"),
    "is_opening": DocField("Select", "Is Opening", _select("No", "Yes")),
    "stock_entry": DocField("Link", "Stock Entry", "Stock Entry"),
    "auto_repeat": DocField("Link", "Auto Repeat", "Auto Repeat", allow_on_submit=True),
    "amended_from": DocField("Link", "Amended From", JE),
    "from_template": DocField("Link", "From Template", "Journal Entry Template"),
    "tax_withholding_category": DocField(
        "Link", "Tax Withholding Category", "Tax Withholding Category"
    ),
    "apply_tds": DocField("Check", "Apply Tax Withholding Amount "),
    "reversal_of": DocField("Link", "Reversal Of", JE),
    "process_deferred_accounting": DocField(
        "Link", "Process Deferred Accounting", "Process Deferred Accounting"
    ),
    "is_system_generated": DocField("Check", "Is System Generated"),
}

JOURNAL_ENTRY_ACCOUNT_FIELDS: dict[str, DocField] = {
    "account": DocField("Link", "Account", "Account"),
    "account_type": DocField("Data", "Account Type"),
    "balance": DocField("Currency", "Account Balance", "account_currency"),
    "cost_center": DocField("Link", "Cost Center", "Cost Center"),
    "party_type": DocField("Link", "Party Type", "DocType"),
    "party": DocField("Dynamic Link", "Party", "party_type"),
    "party_balance": DocField("Currency", "Party Balance", "account_currency"),
    "account_currency": DocField("Link", "Account Currency", "Currency"),
    "exchange_rate": DocField("Float", "Exchange Rate"),
    "debit_in_account_currency": DocField("Currency", "Debit", "account_currency"),
    "debit": DocField("Currency", "Debit in Company Currency", "Company:company:default_currency"),
    "credit_in_account_currency": DocField("Currency", "Credit", "account_currency"),
    "credit": DocField(
        "Currency", "Credit in Company Currency", "Company:company:default_currency"
    ),
    "reference_type": DocField("Select", "Reference Type", _select(*REFERENCE_TYPES)),
    "reference_name": DocField("Dynamic Link", "Reference Name", "reference_type"),
    "reference_due_date": DocField("Date", "Reference Due Date"),
    "project": DocField("Link", "Project", "Project"),
    "is_advance": DocField("Select", "Is Advance", _select("No", "Yes")),
    "user_remark": DocField("Small Text", "User Remark"),
    "against_account": DocField("Text", "Against Account"),
    "against_account_link": DocField("Dynamic Link", "Against Account", "against_type"),
    "bank_account": DocField("Link", "Bank Account", "Bank Account"),
    "reference_detail_no": DocField("Data", "Reference Detail No"),
    "against_type": DocField("Link", "Against Type", "DocType"),
}

# `reqd: 1` in the doctype JSON (cheque_no / cheque_date are mandatory only for Bank Entry, checked
# on submit by ERPNext's validate_cheque_info).
MANDATORY_FIELDS = ("voucher_type", "naming_series", "posting_date", "company", "accounts")
MANDATORY_ROW_FIELDS = ("account",)

# The custom field shipped as a fixture (Data, unique, no_copy, read_only): not in the doctype
# JSON, it exists on a site only once the fixture is imported.
POSTING_KEY_DOCFIELD = DocField("Data", POSTING_KEY_LABEL)

# Frappe's standard columns (frappe.model.default_fields / child_table_fields): every doc has them.
STANDARD_FIELDS = frozenset(
    {"doctype", "name", "owner", "creation", "modified", "modified_by", "docstatus", "idx"}
)
CHILD_STANDARD_FIELDS = STANDARD_FIELDS | {"parent", "parentfield", "parenttype"}

# Read-only fields ERPNext computes; whatever a client sends for them is overwritten.
_COMPUTED_HEADER = (
    "total_debit",
    "total_credit",
    "difference",
    "total_amount",
    "total_amount_currency",
    "total_amount_in_words",
    "remark",
)
_COMPUTED_ROW = (
    "account_type",
    "account_currency",
    "debit",
    "credit",
    "balance",
    "party_balance",
    "against_account",
)

# Link targets this server keeps records of; a value pointing anywhere else cannot be found.
_KNOWN_LINK_TARGETS = frozenset({"Company", "Account", "Cost Center", "Currency", JE, "DocType"})
_PARTY_ACCOUNT_TYPES = {"Customer": "Receivable", "Supplier": "Payable"}

# Bank Transaction fields (erpnext bank_transaction.json, 2023-03-31; frappe-erpnext.md §C.4).
BANK_TRANSACTION_FIELDS = frozenset(
    {
        "date",
        "status",
        "bank_account",
        "company",
        "deposit",
        "withdrawal",
        "currency",
        "description",
        "reference_number",
        "transaction_id",
        "transaction_type",
        "payment_entries",
        "allocated_amount",
        "unallocated_amount",
        "party_type",
        "party",
        "bank_party_name",
        "bank_party_no",
        "bank_party_iban",
        "naming_series",
    }
)

# ---------------------------------------------------------------------------------------------
# Chart of accounts


ROOT_TYPES = ("Asset", "Liability", "Equity", "Income", "Expense")


@dataclass(frozen=True, slots=True)
class Company:
    name: str
    abbr: str
    default_currency: str = "EUR"
    # ERPNext fills a row's missing cost centre from the company's default one (the `:Company`
    # default of `cost_center`). None here, so a payload that forgets cost centres fails the
    # P&L check the way it would on a site without a default.
    cost_center: str | None = None
    # Books closed (an Accounting Period marked closed) up to and including this date.
    books_closed_until: date | None = None


@dataclass(frozen=True, slots=True)
class Account:
    name: str
    company: str
    root_type: str
    account_type: str = ""
    is_group: bool = False
    account_currency: str | None = None  # None: the company's currency
    parent_account: str | None = None
    disabled: bool = False

    @property
    def report_type(self) -> str:
        pl = self.root_type in ("Income", "Expense")
        return "Profit and Loss" if pl else "Balance Sheet"


@dataclass(frozen=True, slots=True)
class CostCenter:
    name: str
    company: str
    is_group: bool = False
    parent_cost_center: str | None = None


@dataclass(frozen=True)
class Chart:
    """Companies, accounts, cost centres and parties the server knows (its "masters")."""

    companies: Mapping[str, Company]
    accounts: Mapping[str, Account]
    cost_centers: Mapping[str, CostCenter]
    parties: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for acc in self.accounts.values():
            if acc.company not in self.companies:
                raise ValueError(f"account {acc.name!r}: unknown company {acc.company!r}")
            if acc.root_type not in ROOT_TYPES:
                raise ValueError(f"account {acc.name!r}: root_type must be one of {ROOT_TYPES}")
        for cc in self.cost_centers.values():
            if cc.company not in self.companies:
                raise ValueError(f"cost centre {cc.name!r}: unknown company {cc.company!r}")
        for co in self.companies.values():
            if co.cost_center is not None and co.cost_center not in self.cost_centers:
                raise ValueError(f"company {co.name!r}: unknown cost centre {co.cost_center!r}")

    def currency_of(self, account: Account) -> str:
        return account.account_currency or self.companies[account.company].default_currency

    @property
    def currencies(self) -> set[str]:
        out = {c.default_currency for c in self.companies.values()}
        return out | {self.currency_of(a) for a in self.accounts.values()}

    @classmethod
    def default(cls) -> Chart:
        """Vereniging Groene Vork (VGV), shaped like ERPNext's standard chart, plus one account
        and cost centre of a second company to test the company checks."""
        vgv, gve = DEFAULT_COMPANY, "Groene Vork Events B.V."
        a = Account
        accounts = [
            # groups, as ERPNext's standard chart nests them
            a("Application of Funds (Assets) - VGV", vgv, "Asset", is_group=True),
            a(
                "Current Assets - VGV",
                vgv,
                "Asset",
                is_group=True,
                parent_account="Application of Funds (Assets) - VGV",
            ),
            a(
                "Bank Accounts - VGV",
                vgv,
                "Asset",
                "Bank",
                is_group=True,
                parent_account="Current Assets - VGV",
            ),
            a(
                "Accounts Receivable - VGV",
                vgv,
                "Asset",
                is_group=True,
                parent_account="Current Assets - VGV",
            ),
            a("Source of Funds (Liabilities) - VGV", vgv, "Liability", is_group=True),
            a(
                "Current Liabilities - VGV",
                vgv,
                "Liability",
                is_group=True,
                parent_account="Source of Funds (Liabilities) - VGV",
            ),
            a(
                "Duties and Taxes - VGV",
                vgv,
                "Liability",
                "Tax",
                is_group=True,
                parent_account="Current Liabilities - VGV",
            ),
            a(
                "Accounts Payable - VGV",
                vgv,
                "Liability",
                is_group=True,
                parent_account="Current Liabilities - VGV",
            ),
            a("Income - VGV", vgv, "Income", is_group=True),
            a("Direct Income - VGV", vgv, "Income", is_group=True, parent_account="Income - VGV"),
            a("Expenses - VGV", vgv, "Expense", is_group=True),
            a(
                "Indirect Expenses - VGV",
                vgv,
                "Expense",
                is_group=True,
                parent_account="Expenses - VGV",
            ),
            # Mollie clearing accounts, one per balance currency (DESIGN §5), and the bank
            a(
                "Mollie EUR - VGV",
                vgv,
                "Asset",
                "Bank",
                account_currency="EUR",
                parent_account="Bank Accounts - VGV",
            ),
            a(
                "Mollie GBP - VGV",
                vgv,
                "Asset",
                "Bank",
                account_currency="GBP",
                parent_account="Bank Accounts - VGV",
            ),
            a(
                "Bank - VGV",
                vgv,
                "Asset",
                "Bank",
                account_currency="EUR",
                parent_account="Bank Accounts - VGV",
            ),
            a(
                "Old Mollie Clearing - VGV",
                vgv,
                "Asset",
                "Bank",
                account_currency="EUR",
                parent_account="Bank Accounts - VGV",
                disabled=True,
            ),
            a(
                "Debtors - VGV",
                vgv,
                "Asset",
                "Receivable",
                account_currency="EUR",
                parent_account="Accounts Receivable - VGV",
            ),
            a(
                "Creditors - VGV",
                vgv,
                "Liability",
                "Payable",
                account_currency="EUR",
                parent_account="Accounts Payable - VGV",
            ),
            # ERPNext's charts keep VAT accounts under Duties and Taxes (Liability, type Tax),
            # input VAT included: it simply carries a debit balance.
            a(
                "Input VAT - VGV",
                vgv,
                "Liability",
                "Tax",
                account_currency="EUR",
                parent_account="Duties and Taxes - VGV",
            ),
            a(
                "Sales - VGV",
                vgv,
                "Income",
                "Income Account",
                account_currency="EUR",
                parent_account="Direct Income - VGV",
            ),
            a(
                "Sales Returns - VGV",
                vgv,
                "Income",
                "Income Account",
                account_currency="EUR",
                parent_account="Direct Income - VGV",
            ),
            a(
                "Chargebacks - VGV",
                vgv,
                "Expense",
                "Expense Account",
                account_currency="EUR",
                parent_account="Indirect Expenses - VGV",
            ),
            a(
                "Payment Processing Fees - VGV",
                vgv,
                "Expense",
                "Expense Account",
                account_currency="EUR",
                parent_account="Indirect Expenses - VGV",
            ),
            a(
                "Rounding - VGV",
                vgv,
                "Expense",
                "Round Off",
                account_currency="EUR",
                parent_account="Indirect Expenses - VGV",
            ),
            # another company's accounts: valid names, wrong company for VGV entries
            a("Bank - GVE", gve, "Asset", "Bank", account_currency="EUR"),
            a("Sales - GVE", gve, "Income", "Income Account", account_currency="EUR"),
        ]
        cost_centers = [
            CostCenter("Vereniging Groene Vork - VGV", vgv, is_group=True),
            CostCenter("Main - VGV", vgv, parent_cost_center="Vereniging Groene Vork - VGV"),
            CostCenter("Main - GVE", gve),
        ]
        return cls(
            companies={vgv: Company(vgv, "VGV"), gve: Company(gve, "GVE")},
            accounts={x.name: x for x in accounts},
            cost_centers={x.name: x for x in cost_centers},
            parties={"Customer": ("Webshop Customers",), "Supplier": ("Mollie B.V.",)},
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Chart:
        """Build a chart from plain data (parsed TOML or JSON).

        Full form: `companies`, `accounts`, `cost_centers` (each: name → attributes of
        `Company` / `Account` / `CostCenter`) and optional `parties` (party type → names).
        Short form: the mapping is just `accounts` (name → {company, root_type, account_type,
        is_group, account_currency, ...}); companies are then inferred from the accounts (the
        abbreviation from the " - ABBR" suffix, currency EUR) with a cost centre "Main - ABBR".
        """
        if "accounts" not in data:
            data = {"accounts": data}
        accounts = {n: Account(name=n, **dict(v)) for n, v in data["accounts"].items()}
        companies_in = data.get("companies")
        if companies_in is None:
            companies_in = {}
            for acc in accounts.values():
                abbr = acc.name.rsplit(" - ", 1)[-1] if " - " in acc.name else acc.company[:3]
                companies_in.setdefault(acc.company, {"abbr": abbr})
        companies = {}
        for n, v in companies_in.items():
            attrs = dict(v)
            if isinstance(attrs.get("books_closed_until"), str):
                attrs["books_closed_until"] = date.fromisoformat(attrs["books_closed_until"])
            companies[n] = Company(name=n, **attrs)
        cost_in = data.get("cost_centers")
        if cost_in is None:
            cost_in = {f"Main - {c.abbr}": {"company": c.name} for c in companies.values()}
        cost_centers = {n: CostCenter(name=n, **dict(v)) for n, v in cost_in.items()}
        parties = {k: tuple(v) for k, v in (data.get("parties") or {}).items()}
        return cls(companies, accounts, cost_centers, parties)

    @classmethod
    def load(cls, path: str | Path) -> Chart:
        """Read a chart from a `.toml` or `.json` file (see `from_dict`)."""
        path = Path(path)
        if path.suffix == ".toml":
            return cls.from_dict(tomllib.loads(path.read_text(encoding="utf-8")))
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))


# ---------------------------------------------------------------------------------------------
# Frappe's error envelope


def _hash(n: int = 10) -> str:
    return secrets.token_hex(n)[:n]


def msg_log_entry(message: str, *, raise_exception: bool, title: str | None = None) -> dict:
    """One entry of Frappe's message log, as `frappe.msgprint` builds it."""
    entry: dict[str, Any] = {"message": message, "title": title or "Message"}
    if raise_exception:  # what frappe.throw / msgprint(raise_exception=...) add
        entry.update(indicator="red", raise_exception=1, __frappe_exc_id=_hash())
    return entry


class FrappeError(Exception):
    """An error answer. `messages` become `_server_messages`; `text` is str(exception)."""

    def __init__(
        self,
        status: int,
        exc_type: str,
        messages: Iterable[dict] = (),
        *,
        text: str = "",
        module: str = "frappe.exceptions",
        source: str | None = None,
        error_message: str | None = None,
        headers: Mapping[str, str] | None = None,
        raw: tuple[str, bytes] | None = None,
    ) -> None:
        super().__init__(text or exc_type)
        self.status = status
        self.exc_type = exc_type
        self.messages = list(messages)
        self.text = text
        self.module = module
        self.source = source  # "erpnext" when ERPNext code raised it (Frappe's `_exc_source`)
        self.error_message = error_message
        self.headers = dict(headers or {})
        self.raw = raw  # (content type, body) for answers that are not Frappe JSON

    def body(self, traceback_allowed: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        # Frappe hides tracebacks for 404 unless `logging` is on (report_error).
        if traceback_allowed and self.status != 404:
            line = f"{self.module}.{self.exc_type}" + (f": {self.text}" if self.text else "")
            out["exception"] = line
            out["exc"] = json.dumps(
                [
                    "Traceback (most recent call last):\n"
                    '  File "frappe test stand-in", line 1, in <module>\n'
                    f"{line}\n"
                ]
            )
            if self.source:
                out["_exc_source"] = f"{self.source} (app)"
        out["exc_type"] = self.exc_type
        if self.messages:
            out["_server_messages"] = json.dumps([json.dumps(m) for m in self.messages])
        if self.error_message:
            out["_error_message"] = self.error_message
        return out


def throw(
    message: str,
    exc_type: str = "ValidationError",
    *,
    status: int = 417,
    title: str | None = None,
    source: str | None = "erpnext",
) -> FrappeError:
    """`frappe.throw(message, exc)`: one red message in the log, the message as the text."""
    return FrappeError(
        status,
        exc_type,
        [msg_log_entry(message, raise_exception=True, title=title)],
        text=message,
        source=source,
    )


def permission_error(doctype: str, ptype: str) -> FrappeError:
    # Document.raise_no_permission_to: sets flags.error_message, raises a bare PermissionError.
    return FrappeError(
        403,
        "PermissionError",
        error_message=f"Insufficient Permission for {doctype} (<strong>{ptype}</strong>)",
    )


def not_found(doctype: str, name: str) -> FrappeError:
    return throw(f"{doctype} {name} not found", "DoesNotExistError", status=404, source=None)


def authentication_error() -> FrappeError:
    # frappe.auth.validate_api_key_secret: `raise frappe.AuthenticationError`, no message.
    return FrappeError(401, "AuthenticationError")


# ---------------------------------------------------------------------------------------------
# Values


def _round(value: Decimal, places: Decimal = CENT) -> Decimal:
    # Frappe's flt(value, precision): banker's rounding.
    return value.quantize(places, rounding=ROUND_HALF_EVEN)


def _float_text(value: Decimal) -> str:
    # ERPNext formats a float into some messages ("The difference is 0.01", "... is 10.0");
    # this reproduces that text. It is message text only, never used as an amount.
    return str(float(value))


def _json_default(obj: Any) -> Any:
    # Frappe's json_handler sends Decimal as a JSON float: the wire format is Frappe's.
    if isinstance(obj, Decimal):
        return float(obj)
    if isinstance(obj, (date, datetime)):
        return obj.isoformat()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def dumps(obj: Any) -> bytes:
    return json.dumps(
        obj, default=_json_default, ensure_ascii=False, separators=(",", ":")
    ).encode()


def _timestamp() -> str:
    return datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")


class _Coercer:
    """Turns incoming JSON values into typed field values, as Frappe's BaseDocument does."""

    def __init__(self, strict: bool) -> None:
        self.strict = strict

    def number(self, value: Any, label: str, where: str) -> Decimal:
        if value is None or value == "":
            return Decimal(0)
        parsed: Decimal | None = None
        if isinstance(value, bool):
            parsed = None
        elif isinstance(value, (int, Decimal)):
            parsed = Decimal(value)
        elif isinstance(value, float):  # only from non-JSON bodies; JSON is parsed to Decimal
            parsed = Decimal(str(value))
        elif isinstance(value, str):
            try:
                parsed = Decimal(value.strip())
            except InvalidOperation:
                parsed = None
        if parsed is not None and parsed.is_finite():
            return parsed
        if self.strict:
            raise throw(
                f"{where}{label}: {value!r} is not a number (frappe test stand-in: "
                "Frappe's flt() would silently read it as 0)",
                source=None,
            )
        return Decimal(0)

    @staticmethod
    def date(value: Any) -> str | None:
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                return date.fromisoformat(value).isoformat()
            except ValueError:
                try:
                    return datetime.fromisoformat(value).date().isoformat()
                except ValueError:
                    pass
        raise throw(
            f"<strong>{value}</strong> is not a valid date string.",
            title="Invalid Date",
            source=None,
        )

    @staticmethod
    def check(value: Any, label: str, where: str) -> int:
        if value in (None, "", 0, 1, "0", "1"):  # True == 1 and False == 0 match too
            return int(value or 0)
        raise throw(f"{where}{label}: {value!r} is not a checkbox value (0 or 1)", source=None)

    @staticmethod
    def text(value: Any, label: str, where: str) -> str | None:
        if value is None:
            return None
        if isinstance(value, str):
            return value
        if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
            return str(value)
        raise throw(f"{where}{label}: expected text, got {type(value).__name__}", source=None)

    def value(self, f: DocField, value: Any, where: str) -> Any:
        if f.fieldtype in ("Currency", "Float"):
            return self.number(value, f.label, where)
        if f.fieldtype == "Date":
            return self.date(value)
        if f.fieldtype == "Check":
            return self.check(value, f.label, where)
        return self.text(value, f.label, where)


# ---------------------------------------------------------------------------------------------
# Journal Entry validation (ERPNext's journal_entry.py, gl_entry.py, general_ledger.py)


def _row_where(idx: int) -> str:
    return f"Row #{idx}: "


class JournalEntryRules:
    """ERPNext's checks on one Journal Entry, split at the points where Frappe's insert splits
    them: `prepare` (links, validate, before_submit, mandatory, field checks) runs before the
    row is written, `on_submit` after it (same transaction: any failure stores nothing)."""

    def __init__(
        self,
        chart: Chart,
        *,
        strict: bool,
        posting_key_field: str | None,
        entry_exists: Callable[[str], bool],
    ) -> None:
        self.chart = chart
        self.strict = strict
        self.coerce = _Coercer(strict)
        self.posting_key_field = posting_key_field
        self.entry_exists = entry_exists
        self.header_fields = dict(JOURNAL_ENTRY_FIELDS)
        if posting_key_field:
            self.header_fields[posting_key_field] = POSTING_KEY_DOCFIELD

    # -- shape and types ------------------------------------------------------------------------
    def _known(
        self,
        data: Mapping[str, Any],
        fields: Mapping[str, DocField],
        standard: frozenset[str],
        doctype: str,
        where: str,
    ) -> dict[str, Any]:
        unknown = [k for k in data if k not in fields and k not in standard]
        if unknown and self.strict:
            names = ", ".join(repr(k) for k in unknown)
            raise throw(
                f"{where}{doctype} has no field {names} (frappe test stand-in: real "
                "Frappe silently drops unknown fields, so the value would be lost)",
                source=None,
            )
        return {k: v for k, v in data.items() if k in fields}

    def _typed(
        self, data: Mapping[str, Any], fields: Mapping[str, DocField], where: str
    ) -> dict[str, Any]:
        return {
            k: self.coerce.value(fields[k], v, where)
            for k, v in data.items()
            if fields[k].fieldtype != "Table"
        }

    def parse(self, raw: Mapping[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        header = self._known(raw, self.header_fields, STANDARD_FIELDS, JE, "")
        rows_in = raw.get("accounts")
        if rows_in is None:
            rows_in = []
        if not isinstance(rows_in, list) or not all(isinstance(r, dict) for r in rows_in):
            raise throw(
                "Accounting Entries (accounts) must be a list of rows (objects)", source=None
            )
        head = self._typed(header, self.header_fields, "")
        rows = []
        for idx, row in enumerate(rows_in, 1):
            where = _row_where(idx)
            known = self._known(
                row, JOURNAL_ENTRY_ACCOUNT_FIELDS, CHILD_STANDARD_FIELDS, JEA, where
            )
            typed = self._typed(known, JOURNAL_ENTRY_ACCOUNT_FIELDS, where)
            typed["idx"] = idx
            if isinstance(row.get("name"), str):  # kept when a stored draft is saved again
                typed["name"] = row["name"]
            rows.append(typed)
        return head, rows

    # -- the steps of Document.insert -------------------------------------------------------
    def prepare(self, raw: Mapping[str, Any], docstatus: int, name: str) -> dict[str, Any]:
        head, rows = self.parse(raw)
        for key in _COMPUTED_HEADER:
            head.pop(key, None)
        for row in rows:
            for key in _COMPUTED_ROW:
                row.pop(key, None)
        self._defaults(head, rows)
        self._links(head, rows)
        company = self.chart.companies.get(head.get("company") or "")
        # JournalEntry.validate(), in ERPNext's order
        self._validate_party(rows)
        self._validate_multi_currency(head, rows, company)
        self._set_amounts_in_company_currency(rows)
        self._validate_debit_credit_amount(rows)
        self._set_total_debit_credit(head, rows, company)
        if not rows:
            raise throw("Accounts table cannot be blank")
        self._set_against_accounts(rows)
        self._create_remarks(head)
        if not head.get("title"):
            head["title"] = head.get("pay_to_recd_from") or rows[0].get("account")
        # before_submit
        if docstatus == 1 and head["difference"]:
            raise throw(
                "Total Debit must be equal to Total Credit. The difference is "
                f"{_float_text(head['difference'])}"
            )
        # Document._validate(): mandatory fields, select options, lengths
        self._mandatory(head, rows, name)
        self._selects(head, rows)
        self._lengths(head, rows)
        head["accounts"] = rows
        head["docstatus"] = docstatus
        return head

    def _defaults(self, head: dict[str, Any], rows: list[dict[str, Any]]) -> None:
        head["voucher_type"] = head.get("voucher_type") or "Journal Entry"
        head["naming_series"] = head.get("naming_series") or NAMING_SERIES
        head["is_opening"] = head.get("is_opening") or "No"
        for key in ("multi_currency", "apply_tds", "is_system_generated"):
            head.setdefault(key, 0)
        company = self.chart.companies.get(head.get("company") or "")
        for row in rows:
            row["is_advance"] = row.get("is_advance") or "No"
            if not row.get("cost_center") and company is not None and company.cost_center:
                row["cost_center"] = company.cost_center

    def _links(self, head: dict[str, Any], rows: list[dict[str, Any]]) -> None:
        # Document._validate_links: every bad link of the doc and its rows in one message.
        bad: list[str] = []

        def check(fields: Mapping[str, DocField], data: Mapping[str, Any], prefix: str) -> None:
            for key, f in fields.items():
                value = data.get(key)
                if not value or f.fieldtype not in ("Link", "Dynamic Link"):
                    continue
                target = f.options if f.fieldtype == "Link" else data.get(f.options)
                if not self._link_exists(target, value):
                    bad.append(f"{prefix}{f.label}: {value}")

        check(self.header_fields, head, "")
        for row in rows:
            check(JOURNAL_ENTRY_ACCOUNT_FIELDS, row, f"Row #{row['idx']}: ")
        if bad:
            raise throw(f"Could not find {', '.join(bad)}", "LinkValidationError", source=None)

    def _link_exists(self, target: str | None, value: str) -> bool:
        c = self.chart
        if target == "Company":
            return value in c.companies
        if target == "Account":
            return value in c.accounts
        if target == "Cost Center":
            return value in c.cost_centers
        if target == "Currency":
            return value in c.currencies
        if target == JE:
            return self.entry_exists(value)
        if target == "DocType":  # party_type / against_type name a doctype
            return value in c.parties or value in _KNOWN_LINK_TARGETS
        if target in c.parties:
            return value in c.parties[target]
        return False  # a master this stand-in does not keep: nothing can be found there

    def _validate_party(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            acc = self.chart.accounts.get(row.get("account") or "")
            if acc is None or acc.account_type not in ("Receivable", "Payable"):
                continue
            if not (row.get("party_type") and row.get("party")):
                raise throw(
                    f"Row {row['idx']}: Party Type and Party is required for "
                    f"Receivable / Payable account {acc.name}"
                )
            expected = _PARTY_ACCOUNT_TYPES.get(row["party_type"])
            if expected is not None and expected != acc.account_type:
                raise throw(
                    f"Row {row['idx']}: Account {acc.name} and Party Type "
                    f"{row['party_type']} have different account types"
                )

    def _validate_multi_currency(
        self, head: dict[str, Any], rows: list[dict[str, Any]], company: Company | None
    ) -> None:
        company_currency = company.default_currency if company else None
        foreign = False
        for row in rows:
            acc = self.chart.accounts.get(row.get("account") or "")
            if acc is not None:
                row["account_currency"] = self.chart.currency_of(acc)
                row["account_type"] = acc.account_type
            else:
                row["account_currency"] = company_currency
            foreign |= bool(company_currency and row["account_currency"] != company_currency)
        if foreign and not head.get("multi_currency"):
            raise throw("Please check Multi Currency option to allow accounts with other currency")
        # set_exchange_rate: 1 in the company currency; elsewhere it must be given (ERPNext
        # would look it up in Currency Exchange, which this stand-in does not keep).
        for row in rows:
            if not company_currency or row["account_currency"] == company_currency:
                row["exchange_rate"] = Decimal(1)
            elif not row.get("exchange_rate"):
                raise throw(f"Row {row['idx']}: Exchange Rate is mandatory")

    def _set_amounts_in_company_currency(self, rows: list[dict[str, Any]]) -> None:
        labels = JOURNAL_ENTRY_ACCOUNT_FIELDS
        for row in rows:
            where = _row_where(row["idx"])
            for key in ("debit_in_account_currency", "credit_in_account_currency"):
                amount = row.get(key) or Decimal(0)
                label = labels[key].label
                if self.strict and amount < 0:
                    raise throw(
                        f"{where}{label} cannot be negative ({amount}) (frappe test "
                        "stand-in: ERPNext would book it on the other side in the GL)",
                        source=None,
                    )
                if self.strict and amount != _round(amount):
                    raise throw(
                        f"{where}{label} {amount} has more than 2 decimals (frappe test "
                        f"stand-in: ERPNext would round it to {_round(amount)})",
                        source=None,
                    )
                row[key] = _round(amount)
            rate = row["exchange_rate"]
            row["debit"] = _round(row["debit_in_account_currency"] * rate)
            row["credit"] = _round(row["credit_in_account_currency"] * rate)

    @staticmethod
    def _validate_debit_credit_amount(rows: list[dict[str, Any]]) -> None:
        for row in rows:
            if not row["debit"] and not row["credit"]:
                raise throw(f"Row {row['idx']}: Both Debit and Credit values cannot be zero")

    @staticmethod
    def _set_total_debit_credit(
        head: dict[str, Any], rows: list[dict[str, Any]], company: Company | None
    ) -> None:
        for row in rows:
            if row["debit"] and row["credit"]:
                raise throw("You cannot credit and debit same account at the same time")
        head["total_debit"] = sum((r["debit"] for r in rows), Decimal(0))
        head["total_credit"] = sum((r["credit"] for r in rows), Decimal(0))
        head["difference"] = head["total_debit"] - head["total_credit"]
        head["total_amount"] = head["total_debit"]
        if company is not None:
            head["total_amount_currency"] = company.default_currency

    @staticmethod
    def _set_against_accounts(rows: list[dict[str, Any]]) -> None:
        debit_side = list(
            dict.fromkeys(r["account"] for r in rows if r["debit"] and r.get("account"))
        )
        credit_side = list(
            dict.fromkeys(r["account"] for r in rows if r["credit"] and r.get("account"))
        )
        for row in rows:
            row["against_account"] = ", ".join(credit_side if row["debit"] else debit_side)

    @staticmethod
    def _create_remarks(head: dict[str, Any]) -> None:
        remarks = []
        if head.get("user_remark"):
            remarks.append(f"Note: {head['user_remark']}")
        if head.get("cheque_no"):
            if not head.get("cheque_date"):
                # msgprint(..., raise_exception=frappe.MandatoryError) in create_remarks
                raise throw("Please enter Reference date", "MandatoryError")
            shown = date.fromisoformat(head["cheque_date"]).strftime("%d-%m-%Y")
            remarks.append(f"Reference #{head['cheque_no']} dated {shown}")
        head["remark"] = "\n".join(remarks) if remarks else "No Remarks"

    def _mandatory(self, head: dict[str, Any], rows: list[dict[str, Any]], name: str) -> None:
        missing: list[tuple[str, str]] = []
        for key in MANDATORY_FIELDS:
            if key != "accounts" and not head.get(key):
                label = self.header_fields[key].label
                missing.append((key, f"Error: Value missing for {JE}: {label}"))
        if not rows:
            missing.append(
                (
                    "accounts",
                    f"Error: Data missing in table: {self.header_fields['accounts'].label}",
                )
            )
        missing.extend(
            (
                key,
                f"Error: <strong>{JEA}</strong> Row #{row['idx']}: Value missing "
                f"for: {JOURNAL_ENTRY_ACCOUNT_FIELDS[key].label}",
            )
            for row in rows
            for key in MANDATORY_ROW_FIELDS
            if not row.get(key)
        )
        if missing:
            # _validate_mandatory: one plain msgprint per field, then MandatoryError.
            raise FrappeError(
                417,
                "MandatoryError",
                [msg_log_entry(m, raise_exception=False) for _, m in missing],
                text=f"[{JE}, {name}]: {', '.join(k for k, _ in missing)}",
            )

    def _selects(self, head: dict[str, Any], rows: list[dict[str, Any]]) -> None:
        def check(fields: Mapping[str, DocField], data: Mapping[str, Any], prefix: str) -> None:
            for key, f in fields.items():
                value = data.get(key)
                options = f.options.split("\n")
                if f.fieldtype == "Select" and value and value not in options:
                    shown = '", "'.join(o for o in options if o)
                    raise throw(
                        f'{prefix}{f.label} cannot be "{value}". It should be one of "{shown}"',
                        title="Invalid Selection",
                        source=None,
                    )

        check(self.header_fields, head, "")
        for row in rows:
            check(JOURNAL_ENTRY_ACCOUNT_FIELDS, row, _row_where(row["idx"]))

    def _lengths(self, head: dict[str, Any], rows: list[dict[str, Any]]) -> None:
        def check(fields: Mapping[str, DocField], data: Mapping[str, Any], ref: str) -> None:
            for key, f in fields.items():
                value = data.get(key)
                if f.fieldtype == "Data" and isinstance(value, str) and len(value) > DATA_LENGTH:
                    raise throw(
                        f"{ref}: '<strong>{f.label}</strong>' ({value}) will get "
                        f"truncated, as max characters allowed is {DATA_LENGTH}",
                        "CharacterLengthExceededError",
                        title="Value too big",
                        source=None,
                    )

        check(self.header_fields, head, JE)
        for row in rows:
            check(JOURNAL_ENTRY_ACCOUNT_FIELDS, row, f"Row #{row['idx']}")

    def on_submit(self, doc: dict[str, Any], name: str) -> None:
        """validate_cheque_info, then make_gl_entries' checks (general_ledger, GL Entry)."""
        if doc["voucher_type"] == "Bank Entry" and not (
            doc.get("cheque_no") and doc.get("cheque_date")
        ):
            raise throw("Reference No & Reference Date is required for Bank Entry")
        if doc.get("cheque_date") and not doc.get("cheque_no"):
            raise throw("Reference No is mandatory if you entered Reference Date")
        company = self.chart.companies[doc["company"]]
        closed = company.books_closed_until
        if closed is not None and date.fromisoformat(doc["posting_date"]) <= closed:
            raise FrappeError(
                417,
                "ClosedAccountingPeriod",
                [
                    msg_log_entry(
                        "You cannot create or cancel any accounting entries with in the "
                        f"closed Accounting Period {company.abbr}-closed-{closed}",
                        raise_exception=True,
                    )
                ],
                text="You cannot create or cancel any accounting entries with in the closed "
                f"Accounting Period {company.abbr}-closed-{closed}",
                module="erpnext.accounts.general_ledger",
                source="erpnext",
            )
        rows = doc["accounts"]
        disabled = [r["account"] for r in rows if self.chart.accounts[r["account"]].disabled]
        if disabled:
            listed = ", ".join(f"<strong>{a}</strong>" for a in dict.fromkeys(disabled))
            raise throw(
                f"Cannot create accounting entries against disabled accounts: {listed}",
                title="Disabled Account Selected",
            )
        voucher = f"{JE} {name}"
        for row in rows:  # one GL Entry per row: validate(), then on_update()
            acc = self.chart.accounts[row["account"]]
            cc_name = row.get("cost_center")
            if acc.report_type == "Profit and Loss" and not cc_name:
                raise throw(
                    f"{voucher}: Cost Center is required for 'Profit and Loss' account "
                    f"{acc.name}. Please set the cost center field in {JE} or setup a "
                    "default Cost Center for the Company.",
                    title="Missing Cost Center",
                )
            if cc_name:
                cc = self.chart.cost_centers[cc_name]
                if cc.company != doc["company"]:
                    raise throw(
                        f"{voucher}: Cost Center {cc_name} does not belong to Company "
                        f"{doc['company']}"
                    )
                if cc.is_group:
                    raise throw(
                        f"{voucher}: Cost Center {cc_name} is a group cost center and "
                        "group cost centers cannot be used in transactions"
                    )
            if acc.is_group:
                raise throw(
                    f"{voucher}: Account {acc.name} is a Group Account and group "
                    "accounts cannot be used in transactions"
                )
            if acc.company != doc["company"]:
                raise throw(
                    f"{voucher}: Account {acc.name} does not belong to Company {doc['company']}"
                )


def _docstatus(value: Any) -> int:
    if value in (None, "", 0, "0"):
        return 0
    if value in (1, "1"):
        return 1
    if value in (2, "2"):
        return 2
    raise FrappeError(417, "ValidationError", text=f"Invalid docstatus {value!r}")


def _transition_error(old: int, new: int) -> FrappeError:
    # Document.check_docstatus_transition raises with a text but logs no message.
    names = {0: "Draft", 1: "Submitted", 2: "Cancelled"}
    return FrappeError(
        417,
        "DocstatusTransitionError",
        text=f"Cannot change docstatus from {old} ({names[old]}) to {new} ({names[new]})",
    )


# ---------------------------------------------------------------------------------------------
# Stored documents


class JournalEntryStore:
    """The site's Journal Entries: naming series, the unique custom field, submit and cancel.
    Every write runs under one lock, like one database transaction."""

    def __init__(
        self, chart: Chart, *, strict: bool, posting_key_field: str | None, user: str
    ) -> None:
        self.lock = threading.RLock()
        self.docs: dict[str, dict[str, Any]] = {}
        self.counters: dict[str, int] = {}
        self.posting_key_field = posting_key_field
        self.user = user
        self.rules = JournalEntryRules(
            chart,
            strict=strict,
            posting_key_field=posting_key_field,
            entry_exists=self.docs.__contains__,
        )

    def _series_prefix(self, raw: Mapping[str, Any]) -> str:
        # ACC-JV-.YYYY.- : the year of the posting date (today's when it is missing or bad).
        year = date.today().year
        posting = raw.get("posting_date")
        if isinstance(posting, str) and re.match(r"\d{4}-", posting):
            year = int(posting[:4])
        return f"ACC-JV-{year}-"

    def _peek_name(self, raw: Mapping[str, Any]) -> str:
        prefix = self._series_prefix(raw)
        return f"{prefix}{self.counters.get(prefix, 0) + 1:05d}"

    def _check_unique(self, doc: Mapping[str, Any], name: str) -> None:
        key_field = self.posting_key_field
        value = doc.get(key_field) if key_field else None
        if not value or not value.strip():
            return  # a unique column holds any number of NULLs
        if any(d.get(key_field) == value and n != name for n, d in self.docs.items()):
            # BaseDocument.show_unique_validation_message after MariaDB's IntegrityError 1062.
            raise FrappeError(
                417,
                "UniqueValidationError",
                [msg_log_entry(f"{POSTING_KEY_LABEL} must be unique", raise_exception=False)],
                text=f"('{JE}', '{name}', IntegrityError(1062, \"Duplicate entry '{value}' for "
                f"key '{key_field}'\"))",
            )

    def _finish(
        self, doc: dict[str, Any], name: str, *, creation: str, owner: str, keep_row_names: bool
    ) -> dict:
        now = _timestamp()
        meta = {
            "name": name,
            "owner": owner,
            "creation": creation,
            "modified": now,
            "modified_by": self.user,
            "docstatus": doc["docstatus"],
            "idx": 0,
        }
        rows = doc.pop("accounts")
        out = {**meta, **{k: v for k, v in doc.items() if v is not None}}
        out["doctype"] = JE
        out["accounts"] = []
        for row in rows:
            row_name = (keep_row_names and row.get("name")) or _hash()
            row_meta = {
                "name": row_name,
                "owner": owner,
                "creation": creation,
                "modified": now,
                "modified_by": self.user,
                "docstatus": doc["docstatus"],
                "idx": row["idx"],
            }
            body = {k: v for k, v in row.items() if v is not None and k not in ("idx", "name")}
            out["accounts"].append(
                {
                    **row_meta,
                    **body,
                    "parent": name,
                    "parentfield": "accounts",
                    "parenttype": JE,
                    "doctype": JEA,
                }
            )
        return out

    def insert(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        with self.lock:
            docstatus = _docstatus(raw.get("docstatus"))
            if docstatus == 2:
                raise _transition_error(0, 2)
            name = self._peek_name(raw)  # set_new_name; the counter rolls back on failure
            doc = self.rules.prepare(raw, docstatus, name)
            self._check_unique(doc, name)  # db_insert
            if docstatus == 1:
                self.rules.on_submit(doc, name)
            prefix = self._series_prefix(raw)
            self.counters[prefix] = self.counters.get(prefix, 0) + 1
            stored = self._finish(
                doc, name, creation=_timestamp(), owner=self.user, keep_row_names=False
            )
            self.docs[name] = stored
            return copy.deepcopy(stored)

    def get(self, name: str) -> dict[str, Any]:
        with self.lock:
            if name not in self.docs:
                raise not_found(JE, name)
            return copy.deepcopy(self.docs[name])

    def update(self, name: str, raw: Mapping[str, Any]) -> dict[str, Any]:
        """PUT: save a draft, submit it (0→1), cancel (1→2) or change allow-on-submit fields."""
        with self.lock:
            current = self.get(name)
            old = current["docstatus"]
            new = _docstatus(raw.get("docstatus", old))
            if old == 2:
                raise FrappeError(417, "ValidationError", text="Cannot edit cancelled document")
            if (old, new) in ((0, 2), (1, 0)):
                raise _transition_error(old, new)
            if old == 1:
                return self._update_submitted(current, raw, new)
            merged = {**current, **raw}
            merged.pop("accounts", None)
            rows = raw.get("accounts", current["accounts"])  # a child table key replaces it
            merged["accounts"] = rows
            doc = self.rules.prepare(merged, new, name)
            self._check_unique(doc, name)
            if new == 1:
                self.rules.on_submit(doc, name)
            stored = self._finish(
                doc, name, creation=current["creation"], owner=current["owner"], keep_row_names=True
            )
            self.docs[name] = stored
            return copy.deepcopy(stored)

    def _update_submitted(
        self, current: dict[str, Any], raw: Mapping[str, Any], new: int
    ) -> dict[str, Any]:
        fields = self.rules.header_fields
        if new == 1:
            for key, value in raw.items():
                f = fields.get(key)
                if f is None or key == "docstatus" or value == current.get(key):
                    continue
                if not f.allow_on_submit:
                    raise throw(
                        f"Not allowed to change <strong>{f.label}</strong> after "
                        f"submission from <strong>{current.get(key)}</strong> to "
                        f"<strong>{value}</strong>",
                        "UpdateAfterSubmitError",
                        title="Cannot Update After Submit",
                        source=None,
                    )
                current[key] = value
        else:  # cancel: the GL is reversed; the unique key stays taken (frappe-erpnext §B.5)
            current["docstatus"] = 2
            for row in current["accounts"]:
                row["docstatus"] = 2
        current["modified"] = _timestamp()
        self.docs[current["name"]] = current
        return copy.deepcopy(current)

    def delete(self, name: str) -> None:
        with self.lock:
            doc = self.get(name)
            if doc["docstatus"] == 1:
                link = (
                    "<a href='https://docs.erpnext.com//docs/user/manual/en/setting-up/"
                    "articles/delete-submitted-document' target='_blank'>"
                )
                raise throw(
                    f"{JE} {name}: Submitted Record cannot be deleted. You must {link} "
                    "Cancel </a> it first.",
                    source=None,
                )
            del self.docs[name]


# ---------------------------------------------------------------------------------------------
# Lists: Frappe's get_list over in-memory documents


_OPERATORS = ("=", "!=", "<", ">", "<=", ">=", "like", "not like", "in", "not in", "is", "between")


def _like(pattern: str, value: str) -> bool:
    regex = "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern)
    return re.fullmatch(regex, value, flags=re.IGNORECASE | re.DOTALL) is not None


def _comparable(stored: Any, wanted: Any) -> tuple[Any, Any]:
    # Frappe compares in SQL with ifnull(field, ''|0): bring both sides to one type.
    numeric = isinstance(stored, (Decimal, int)) and not isinstance(stored, bool)
    if numeric or (stored is None and isinstance(wanted, (int, Decimal))):
        try:
            return Decimal(stored or 0), Decimal(str(wanted if wanted not in (None, "") else 0))
        except InvalidOperation:
            return str(stored), str(wanted)
    return ("" if stored is None else str(stored)), ("" if wanted is None else str(wanted))


def _matches(stored: Any, op: str, wanted: Any) -> bool:
    if op == "is":
        is_set = stored not in (None, "")
        return is_set if str(wanted).lower() == "set" else not is_set
    if op in ("in", "not in"):
        options = wanted.split(",") if isinstance(wanted, str) else list(wanted or [])
        hit = any(a == b for a, b in (_comparable(stored, o) for o in options))
        return hit if op == "in" else not hit
    if op == "between":
        low, high = list(wanted)[:2]
        a, lo = _comparable(stored, low)
        _, hi = _comparable(stored, high)
        return lo <= a <= hi
    a, b = _comparable(stored, wanted)
    if op in ("like", "not like"):
        hit = _like(str(b), str(a))
        return hit if op == "like" else not hit
    return {"=": a == b, "!=": a != b, "<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]


@dataclass(frozen=True, slots=True)
class _Condition:
    doctype: str | None  # a child doctype when the filter names one
    fieldname: str
    op: str
    value: Any


class ListQuery:
    """Parses and runs one `GET /api/resource/<DocType>` (frappe.client.get_list)."""

    def __init__(
        self,
        doctype: str,
        fields: Iterable[str],
        child: tuple[str, str] | None,
        child_fields: Iterable[str] = (),
    ) -> None:
        self.doctype = doctype
        self.fields = set(fields) | STANDARD_FIELDS
        self.child = child  # (child doctype, table fieldname)
        self.child_fields = set(child_fields) | CHILD_STANDARD_FIELDS

    def _bad_field(self, name: str) -> FrappeError:
        return throw(f"Field not permitted in query: {name}", "DataError", source=None)

    def _conditions(self, raw: Any) -> list[_Condition]:
        if raw in (None, "", [], {}):
            return []
        if isinstance(raw, dict):
            items: list[list[Any]] = []
            for k, v in raw.items():
                if isinstance(v, list) and v and str(v[0]).lower() in _OPERATORS:
                    items.append([k, v[0], v[1] if len(v) > 1 else None])
                else:
                    items.append([k, "=", v])
            raw = items
        if not isinstance(raw, list):
            raise throw("filters must be a JSON list or object", "DataError", source=None)
        out = []
        for item in raw:
            if not isinstance(item, list) or len(item) not in (2, 3, 4):
                raise throw(
                    f"Invalid filter: {json.dumps(item, default=str)}", "DataError", source=None
                )
            doctype = item[0] if len(item) == 4 else None
            rest = item[1:] if len(item) == 4 else item
            fieldname, op, value = (rest[0], "=", rest[1]) if len(rest) == 2 else rest
            op = str(op).lower()
            if op not in _OPERATORS:
                raise throw(f"Unsupported operator: {op}", "DataError", source=None)
            child = self.child is not None and doctype == self.child[0]
            if doctype not in (None, self.doctype) and not child:
                raise self._bad_field(f"{doctype}.{fieldname}")
            if fieldname not in (self.child_fields if child else self.fields):
                raise self._bad_field(fieldname)
            out.append(_Condition(doctype if child else None, fieldname, op, value))
        return out

    def _holds(self, doc: Mapping[str, Any], cond: _Condition) -> bool:
        if cond.doctype is None:
            return _matches(doc.get(cond.fieldname), cond.op, cond.value)
        assert self.child is not None
        rows = doc.get(self.child[1]) or []
        return any(_matches(r.get(cond.fieldname), cond.op, cond.value) for r in rows)

    def run(self, docs: Iterable[Mapping[str, Any]], params: Mapping[str, str]) -> list[Any]:
        fields = _json_param(params, "fields", ["name"])
        if isinstance(fields, str):
            fields = [fields]
        if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
            raise throw("fields must be a JSON list of field names", "DataError", source=None)
        # "`tabJournal Entry`.name" and "name" name the same column
        fields = [f.replace("`", "").rsplit(".", 1)[-1] for f in fields]
        everything = "*" in fields
        for name in fields:
            if name != "*" and name not in self.fields:
                raise self._bad_field(name)
        where = self._conditions(_json_param(params, "filters", None))
        either = self._conditions(_json_param(params, "or_filters", None))
        hits = [
            d
            for d in docs
            if all(self._holds(d, c) for c in where)
            and (not either or any(self._holds(d, c) for c in either))
        ]
        hits = self._ordered(hits, params.get("order_by") or "modified desc")
        start = _int_param(params, "limit_start", 0)
        length = _int_param(params, "limit_page_length", _int_param(params, "limit", PAGE_LENGTH))
        hits = hits[start : start + length] if length else hits[start:]
        table = self.child[1] if self.child else None
        if everything:  # every stored column; child tables are never part of a list
            rows = [{k: v for k, v in d.items() if k != table and k != "doctype"} for d in hits]
        else:
            rows = [{f: d.get(f) for f in fields} for d in hits]
        if params.get("as_dict") in ("0", "false", "False"):
            return [list(r.values()) for r in rows]
        return rows

    def _ordered(self, docs: list[Mapping[str, Any]], order_by: str) -> list[Mapping[str, Any]]:
        keys = []
        for part in order_by.split(","):
            bits = part.strip().replace("`", "").split()
            if not bits:
                continue
            name = bits[0].rsplit(".", 1)[-1]
            if name not in self.fields:
                raise self._bad_field(name)
            keys.append((name, len(bits) > 1 and bits[1].lower() == "desc"))
        for name, desc in reversed(keys):  # stable sorts, last key first

            def key(d: Mapping[str, Any], name: str = name) -> tuple[int, Any]:
                v = d.get(name)
                if v is None:
                    return (0, "")
                return (1, v) if isinstance(v, (int, Decimal)) else (2, str(v))

            docs = sorted(docs, key=key, reverse=desc)
        return docs


def _json_param(params: Mapping[str, str], key: str, default: Any) -> Any:
    raw = params.get(key)
    if raw is None or raw == "":
        return default
    try:
        return json.loads(raw, parse_float=Decimal)
    except json.JSONDecodeError:
        if key == "fields":  # Frappe also takes a bare field name
            return [raw]
        raise throw(f"{key} is not valid JSON: {raw}", "DataError", source=None) from None


def _int_param(params: Mapping[str, str], key: str, default: int) -> int:
    raw = params.get(key)
    if raw in (None, ""):
        return default
    try:
        return max(int(raw), 0)
    except ValueError:
        raise throw(f"{key} must be a whole number", source=None) from None


# ---------------------------------------------------------------------------------------------
# Faults for tests


@dataclass
class _FaultRule:
    remaining: int
    status: int
    match: Callable[[Any], bool] | None
    methods: frozenset[str] | None
    exc_type: str | None
    message: str | None
    retry_after: int

    def applies(self, method: str, payload: Any) -> bool:
        if self.methods is not None and method not in self.methods:
            return False
        return self.match is None or bool(self.match(payload))


# What Frappe (or the proxy in front of it) answers for each status when nothing else is said.
_DEFAULT_FAULTS: dict[int, tuple[str, str | None]] = {
    400: ("CSRFTokenError", "Invalid Request"),
    401: ("AuthenticationError", None),
    403: ("PermissionError", None),
    404: ("DoesNotExistError", "Not found (injected by the frappe test stand-in)"),
    409: (
        "DuplicateEntryError",
        "Journal Entry already exists (injected by the frappe test stand-in)",
    ),
    417: ("ValidationError", "Validation failed (injected by the frappe test stand-in)"),
    500: ("QueryDeadlockError", None),
    503: (
        "InReadOnlyMode",
        "Site is running in read only mode for maintenance or site update, "
        "this action can not be performed right now. Please try again "
        "later.",
    ),
}


def injected_error(rule: _FaultRule) -> FrappeError:
    status = rule.status
    if status == 429:
        # frappe.rate_limiter.RateLimiter.respond(): plain text, go by status and Retry-After.
        return FrappeError(
            429,
            "TooManyRequestsError",
            headers={
                "Retry-After": str(rule.retry_after),
                "X-RateLimit-Limit": "600000",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(rule.retry_after),
            },
            raw=("text/plain; charset=utf-8", b"Too Many Requests"),
        )
    if status in (502, 504):  # answered by the reverse proxy, not by Frappe
        title = {502: "502 Bad Gateway", 504: "504 Gateway Time-out"}[status]
        page = (
            f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>"
            f"{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
        )
        return FrappeError(status, "ProxyError", raw=("text/html", page.encode()))
    exc_type, message = _DEFAULT_FAULTS.get(status, ("Exception", None))
    exc_type = rule.exc_type or exc_type
    message = rule.message if rule.message is not None else message
    if status == 403 and rule.message is None:
        return permission_error(JE, "create")
    messages = [msg_log_entry(message, raise_exception=True)] if message else []
    return FrappeError(status, exc_type, messages, text=message or "", source=None)


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request as the server saw it (for assertions in tests)."""

    method: str
    path: str  # URL-decoded, without the query string
    query: str
    status: int | None  # None: the connection was closed without an answer
    payload: Any  # the parsed document of a write, else None
    exc_type: str | None = None
    fault: str | None = None  # "injected", "dropped" or "auth_broken"


@dataclass
class _Reply:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False


# ---------------------------------------------------------------------------------------------
# HTTP


_ROUTE = re.compile(r"/api(?:/v1)?/(resource|method)/(.+)")
_READ_ONLY_DOCTYPES = ("Account", "Company", "Cost Center", "Bank Transaction")
_PERMISSIONS = ("read", "create", "submit", "cancel", "delete")


def _request_payload(method: str, content_type: str, body: bytes) -> Any:
    """The document of a write, like frappe.api.v1.get_request_form_data."""
    if method not in ("POST", "PUT") or not body:
        return None
    text = body.decode("utf-8", errors="replace")
    if "application/x-www-form-urlencoded" in content_type:
        data: Any = dict(parse_qsl(text, keep_blank_values=True)).get("data", text)
    else:
        try:
            data = json.loads(text, parse_float=Decimal)
        except json.JSONDecodeError:
            raise throw(
                "The request body is not valid JSON (frappe test stand-in)", source=None
            ) from None
        if isinstance(data, dict) and "data" in data:
            data = data["data"]  # {"data": "<json string>"} or {"data": {...}}
    if isinstance(data, str):
        try:
            data = json.loads(data, parse_float=Decimal)
        except json.JSONDecodeError:
            raise throw(
                "The data parameter is not valid JSON (frappe test stand-in)", source=None
            ) from None
    if not isinstance(data, dict):
        raise throw("Invalid request arguments", source=None)
    data.pop("doctype", None)
    return data


class _Handler(TrackedHandler):
    server_version = "FrappeTestStandIn/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        reply = self.server.owner._dispatch(
            self.command, split.path, split.query, self.headers, body
        )
        if reply.drop:
            self.close_connection = True
            try:  # RST instead of FIN: the client sees the connection torn down mid-request
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
            except OSError:
                pass
            return
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for k, v in reply.headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(reply.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve


class FrappeTestServer(BackgroundHTTPService):
    handler_class = _Handler
    thread_name = "frappe-stand-in"

    """A Frappe/ERPNext test stand-in (not Frappe) on a real socket, in a background thread.

    `port=0` picks a free port; `url` is `http://HOST:PORT`. Use as a context manager or call
    `start()` / `stop()`. See the module docstring for what it imitates and what it does not.
    """

    def __init__(
        self,
        chart: Chart | None = None,
        company: str = DEFAULT_COMPANY,
        api_key: str = DEFAULT_API_KEY,
        api_secret: str = DEFAULT_API_SECRET,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        user: str = DEFAULT_USER,
        strict: bool = True,
        posting_key_field: str | None = POSTING_KEY_FIELD,
        allow_error_traceback: bool = True,
        bank_transactions: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        self.chart = chart or Chart.default()
        if company not in self.chart.companies:
            raise ValueError(f"company {company!r} is not in the chart")
        self.company = company
        self.api_key = api_key
        self.api_secret = api_secret
        super().__init__(host, port)
        self.user = user
        self.strict = strict
        self.posting_key_field = posting_key_field
        self.allow_error_traceback = allow_error_traceback
        self._lock = threading.Lock()
        self._store = JournalEntryStore(
            self.chart, strict=strict, posting_key_field=posting_key_field, user=user
        )
        self._bank_transactions: dict[str, dict[str, Any]] = {}
        self._faults: list[_FaultRule] = []
        self._drops: list[_FaultRule] = []
        self._auth_broken = False
        self._permissions = dict.fromkeys(_PERMISSIONS, True)
        self._log: list[RequestRecord] = []
        self._bank_seed = [dict(bt) for bt in bank_transactions]
        for bt in self._bank_seed:
            self.add_bank_transaction(bt)

    # -- lifecycle ----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def auth_header(self) -> str:
        """The Authorization header value for this server's API key and secret."""
        return f"token {self.api_key}:{self.api_secret}"

    def start(self) -> FrappeTestServer:
        return super().start()

    def _started(self) -> None:
        log.info("Frappe test stand-in serving %s", self.url)

    # -- state for tests ----------------------------------------------------------------------
    @property
    def journal_entries(self) -> dict[str, dict[str, Any]]:
        """A snapshot of the stored Journal Entries, name → document (amounts as Decimal)."""
        with self._store.lock:
            return copy.deepcopy(self._store.docs)

    @property
    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._log)

    def reset(self) -> None:
        """Back to the state after construction: no entries, fresh naming counters, the seeded
        bank transactions only, no faults, all permissions, an empty request log."""
        with self._store.lock:
            self._store.docs.clear()
            self._store.counters.clear()
        with self._lock:
            self._bank_transactions.clear()
        for bt in self._bank_seed:
            self.add_bank_transaction(bt)
        with self._lock:
            self._faults.clear()
            self._drops.clear()
            self._log.clear()
            self._auth_broken = False
            self._permissions = dict.fromkeys(_PERMISSIONS, True)

    def add_bank_transaction(self, doc: Mapping[str, Any]) -> str:
        """Seed a (submitted) Bank Transaction; returns its name."""
        unknown = set(doc) - BANK_TRANSACTION_FIELDS - STANDARD_FIELDS
        if unknown:
            raise ValueError(f"Bank Transaction has no field(s) {sorted(unknown)}")
        with self._lock:
            out = {
                k: (
                    Decimal(str(v))
                    if k in ("deposit", "withdrawal", "allocated_amount", "unallocated_amount")
                    else v
                )
                for k, v in doc.items()
            }
            n = len(self._bank_transactions) + 1
            year = str(out.get("date") or date.today().isoformat())[:4]
            name = str(out.get("name") or f"ACC-BTN-{year}-{n:05d}")
            now = _timestamp()
            out = {
                "name": name,
                "owner": "Administrator",
                "creation": now,
                "modified": now,
                "modified_by": "Administrator",
                "docstatus": 1,
                "idx": 0,
                "company": self.company,
                "status": "Unreconciled",
                **out,
                "doctype": "Bank Transaction",
            }
            out["name"] = name
            self._bank_transactions[name] = out
            return name

    # -- fault injection ----------------------------------------------------------------------
    def fail_next(
        self,
        n: int = 1,
        status: int = 500,
        match: Callable[[Any], bool] | None = None,
        *,
        methods: Iterable[str] | None = ("POST", "PUT", "DELETE"),
        exc_type: str | None = None,
        message: str | None = None,
        retry_after: int = 1,
    ) -> None:
        """Answer the next `n` matching requests with `status`; nothing is stored.

        `match(payload)` sees the parsed document of a write (None for reads). `methods` limits
        the rule to those HTTP methods (default: writes only; None = any). 429 answers in plain
        text with Retry-After, 502/504 with a proxy's HTML page, anything else in Frappe's JSON
        envelope (`exc_type` and `message` override the defaults). Rules queue up in order.
        """
        rule = _FaultRule(
            n,
            status,
            match,
            frozenset(methods) if methods else None,
            exc_type,
            message,
            retry_after,
        )
        with self._lock:
            self._faults.append(rule)

    def drop_response_after_insert(
        self, n: int = 1, match: Callable[[Any], bool] | None = None
    ) -> None:
        """For the next `n` successful Journal Entry inserts (matching `match(payload)`): store
        the entry, then close the connection without answering, as when the client times out
        or the network fails after Frappe committed."""
        rule = _FaultRule(n, 0, match, frozenset({"POST"}), None, None, 0)
        with self._lock:
            self._drops.append(rule)

    def set_auth_broken(self, broken: bool = True) -> None:
        """While broken, every request is refused with 401 (revoked or rotated keys)."""
        with self._lock:
            self._auth_broken = broken

    def set_permissions(self, **allowed: bool) -> None:
        """Grant or withhold the API user's read/create/submit/cancel/delete rights (→ 403)."""
        unknown = set(allowed) - set(_PERMISSIONS)
        if unknown:
            raise ValueError(f"unknown permission(s) {sorted(unknown)}; use {_PERMISSIONS}")
        with self._lock:
            self._permissions.update(allowed)

    def _take(self, rules: list[_FaultRule], method: str, payload: Any) -> _FaultRule | None:
        with self._lock:
            for rule in rules:
                if rule.remaining > 0 and rule.applies(method, payload):
                    rule.remaining -= 1
                    return rule
            return None

    # -- per request --------------------------------------------------------------------------
    def _authenticate(self, header: str) -> str | None:
        """frappe.auth.validate_auth: the user, None for Guest, or 401/400."""
        parts = header.split(" ")
        if len(parts) != 2:
            return None  # no (usable) header: the request runs as Guest
        scheme, token = parts[0].lower(), parts[1]
        if scheme == "basic":
            try:
                token = base64.b64decode(token, validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                raise throw(
                    "Failed to decode token, please provide a valid base64-encoded token.",
                    "InvalidAuthorizationToken",
                    status=400,
                    source=None,
                ) from None
        if scheme in ("basic", "token"):
            key, sep, secret = token.partition(":")
            if sep and ":" not in secret and key == self.api_key and secret == self.api_secret:
                return self.user
        raise authentication_error()  # a header was sent but identified no one

    def _require(self, user: str | None, ptype: str, doctype: str) -> None:
        if user is None or not self._permissions[ptype]:
            raise permission_error(doctype, ptype)

    def _dispatch(
        self, method: str, raw_path: str, query: str, headers: Any, body: bytes
    ) -> _Reply:
        path = unquote(raw_path)
        payload: Any = None
        fault: str | None = None
        user: str | None = None
        try:
            if not path.startswith("/api/"):
                reply = _Reply(404, b"<h1>Not Found</h1>", "text/html; charset=utf-8")
                self._record(method, path, query, reply.status, None, None, None)
                return reply
            # Parsed first so the request log has the payload even when auth fails; a body
            # that does not parse is reported after auth, as Frappe would.
            bad_body: FrappeError | None = None
            try:
                payload = _request_payload(method, headers.get("Content-Type") or "", body)
            except FrappeError as err:
                bad_body = err
            if self._auth_broken:
                fault = "auth_broken"
                raise authentication_error()
            user = self._authenticate(headers.get("Authorization") or "")
            if bad_body is not None:
                raise bad_body
            rule = self._take(self._faults, method, payload)
            if rule is not None:
                fault = "injected"
                raise injected_error(rule)
            reply = self._route(method, path, query, payload, user)
            if reply.drop:
                fault = "dropped"
        except FrappeError as err:
            reply = self._error_reply(err, user)
        except Exception:  # a bug in the stand-in: answer like Frappe would, keep serving
            log.exception("frappe stand-in failed on %s %s", method, path)
            reply = self._error_reply(FrappeError(500, "Exception", text="stand-in bug"), user)
        exc_type = None
        if reply.status >= 400 and reply.content_type.startswith("application/json"):
            exc_type = json.loads(reply.body).get("exc_type")
        self._record(
            method, path, query, None if reply.drop else reply.status, payload, exc_type, fault
        )
        return reply

    def _record(
        self,
        method: str,
        path: str,
        query: str,
        status: int | None,
        payload: Any,
        exc_type: str | None,
        fault: str | None,
    ) -> None:
        with self._lock:
            self._log.append(
                RequestRecord(method, path, query, status, copy.deepcopy(payload), exc_type, fault)
            )

    def _error_reply(self, err: FrappeError, user: str | None) -> _Reply:
        if err.raw is not None:
            content_type, body = err.raw
            return _Reply(err.status, body, content_type, err.headers)
        # Tracebacks only for system users (the API user is one; Guest is not).
        body = dumps(err.body(self.allow_error_traceback and user is not None))
        return _Reply(err.status, body, "application/json", err.headers)

    def _route(self, method: str, path: str, query: str, payload: Any, user: str | None) -> _Reply:
        m = _ROUTE.fullmatch(path)
        if m is None:
            raise throw(f"Page {path} not found", "DoesNotExistError", status=404, source=None)
        kind, rest = m.groups()
        if kind == "method":
            return self._method(rest, user)
        doctype, _, name = rest.partition("/")
        params = dict(parse_qsl(query, keep_blank_values=True))
        if doctype == JE:
            return self._journal_entry(method, name, params, payload, user)
        if doctype in _READ_ONLY_DOCTYPES:
            if method != "GET":
                raise permission_error(doctype, "create" if method == "POST" else "write")
            self._require(user, "read", doctype)
            return self._read_only(doctype, name, params)
        raise throw(f"DocType {doctype} not found", "DoesNotExistError", status=404, source=None)

    def _method(self, dotted: str, user: str | None) -> _Reply:
        if dotted != "frappe.auth.get_logged_user":
            raise throw(
                f"Failed to get method for command {dotted} with No module named "
                f"'{dotted.rsplit('.', 1)[0]}' (not served by the frappe test stand-in)",
                "DoesNotExistError",
                status=404,
                source=None,
            )
        if user is None:  # whitelisted, but not for Guest
            raise throw(
                "<details><summary>You are not permitted to access this resource."
                f"</summary>Function {dotted} is not whitelisted.</details>",
                "PermissionError",
                status=403,
                title="Method Not Allowed",
                source=None,
            )
        return _Reply(200, dumps({"message": user}))

    def _journal_entry(
        self, method: str, name: str, params: Mapping[str, str], payload: Any, user: str | None
    ) -> _Reply:
        store = self._store
        if not name:
            if method == "GET":
                self._require(user, "read", JE)
                query = ListQuery(
                    JE, store.rules.header_fields, (JEA, "accounts"), JOURNAL_ENTRY_ACCOUNT_FIELDS
                )
                with store.lock:
                    docs = list(store.docs.values())
                    data = query.run(docs, params)
                return _Reply(200, dumps({"data": data}))
            if method == "POST":
                self._require(user, "create", JE)
                doc = payload or {}
                if _docstatus(doc.get("docstatus")) == 1:
                    self._require(user, "submit", JE)
                stored = store.insert(doc)
                rule = self._take(self._drops, method, payload)
                return _Reply(200, dumps({"data": stored}), drop=rule is not None)
            raise FrappeError(405, "MethodNotAllowed", text=f"{method} not allowed")
        if method == "GET":
            self._require(user, "read", JE)
            return _Reply(200, dumps({"data": store.get(name)}))
        if method == "PUT":
            self._require(user, "read", JE)
            current = store.get(name)
            new = _docstatus((payload or {}).get("docstatus", current["docstatus"]))
            ptype = {(0, 1): "submit", (1, 2): "cancel"}.get((current["docstatus"], new), "write")
            self._require(user, "create" if ptype == "write" else ptype, JE)
            return _Reply(200, dumps({"data": store.update(name, payload or {})}))
        if method == "DELETE":
            self._require(user, "delete", JE)
            store.delete(name)
            return _Reply(202, dumps({"data": "ok"}))
        raise FrappeError(405, "MethodNotAllowed", text=f"{method} not allowed")

    def _read_only(self, doctype: str, name: str, params: Mapping[str, str]) -> _Reply:
        docs = self._read_only_docs(doctype)
        if name:
            if name not in docs:
                raise not_found(doctype, name)
            return _Reply(200, dumps({"data": docs[name]}))
        fields = {k for d in docs.values() for k in d}
        if doctype == "Bank Transaction":
            fields |= BANK_TRANSACTION_FIELDS
        data = ListQuery(doctype, fields, None).run(list(docs.values()), params)
        return _Reply(200, dumps({"data": data}))

    def _read_only_docs(self, doctype: str) -> dict[str, dict[str, Any]]:
        chart = self.chart
        std = {
            "owner": "Administrator",
            "creation": "2026-01-01 00:00:00.000000",
            "modified": "2026-01-01 00:00:00.000000",
            "modified_by": "Administrator",
            "docstatus": 0,
            "idx": 0,
            "doctype": doctype,
        }
        if doctype == "Bank Transaction":
            with self._lock:
                return copy.deepcopy(self._bank_transactions)
        if doctype == "Account":
            return {
                a.name: {
                    **std,
                    "name": a.name,
                    "account_name": a.name.rsplit(" - ", 1)[0],
                    "company": a.company,
                    "root_type": a.root_type,
                    "report_type": a.report_type,
                    "account_type": a.account_type,
                    "is_group": int(a.is_group),
                    "account_currency": chart.currency_of(a),
                    "parent_account": a.parent_account,
                    "disabled": int(a.disabled),
                    "freeze_account": "No",
                }
                for a in chart.accounts.values()
            }
        if doctype == "Company":
            return {
                c.name: {
                    **std,
                    "name": c.name,
                    "company_name": c.name,
                    "abbr": c.abbr,
                    "default_currency": c.default_currency,
                    "cost_center": c.cost_center,
                }
                for c in chart.companies.values()
            }
        return {
            c.name: {
                **std,
                "name": c.name,
                "cost_center_name": c.name.rsplit(" - ", 1)[0],
                "company": c.company,
                "is_group": int(c.is_group),
                "parent_cost_center": c.parent_cost_center,
            }
            for c in chart.cost_centers.values()
        }
