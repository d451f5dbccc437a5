"""A Frappe/ERPNext TEST STAND-IN: Frappe's v1 REST contract for Journal Entry, over real HTTP.

This is NOT Frappe and NOT ERPNext. Frappe cannot run here, so the exporter's tests post to this
small server instead. It imitates the parts of Frappe v15 and ERPNext 15 that mollie-ledger
touches (from frappe/frappe and frappe/erpnext; sandbox/FRAPPE.md lists them):

- token auth (`Authorization: token <api_key>:<api_secret>`, or `Basic base64(key:secret)`);
  no header means Guest, which may do nothing (403); a wrong key or secret is 401;
- `/api/resource/<DocType>` and its `/api/v1/...` alias: insert a Journal Entry (`"docstatus": 1`
  inserts and submits in one call), read it, list with `filters` / `or_filters` / `fields` /
  `order_by` / `limit_start` / `limit_page_length`, `PUT` to save, submit or cancel, `DELETE`
  drafts and cancelled entries; read-only lists of Account, Company, Cost Center and
  Bank Transaction; `GET /api/method/frappe.auth.get_logged_user`;
- ERPNext's Journal Entry validations in Frappe's insert order: links → `validate()` →
  `before_submit` (balance) → mandatory fields → the database insert (unique custom field) →
  `on_submit` (reference number and date, fiscal year, closed period, disabled accounts, then
  the GL Entry checks: P&L cost centre, cost centre company and group, group account, account
  company);
- errors in Frappe's v1 envelope: `exc_type`, `exception` and `exc` (Frappe sends these only
  when System Settings allow tracebacks and the caller is a system user; on by default here),
  `_server_messages` (a JSON string of a list of JSON strings, each with `message`) whenever
  Frappe would have put something in its message log, `_error_message` for bare permission
  failures; HTTP status from the exception class (frappe/exceptions.py).

Where ERPNext is lenient in a way that would hide an exporter bug, the stand-in is stricter by
default (`strict=True`) and says so in the message: unknown fields are rejected (Frappe drops
them silently), amounts with more than 2 decimals are rejected (ERPNext rounds them half-even),
negative amounts are rejected (ERPNext moves them to the other side in the GL), and non-numeric
amounts are rejected (Frappe's `flt` reads them as 0). `strict=False` behaves like ERPNext there.

Not modelled: Customers and other masters beyond the chart (Link fields to them must be empty or
name a party listed in the chart), permissions beyond read/create/submit/cancel/delete,
budgets, credit limits, accounting dimensions, exchange-rate lookup (foreign-currency rows
must carry `exchange_rate`), the GL itself, and everything outside the routes above.

Test hooks: `fail_next()` answers the next matching requests with an injected error (nothing is
stored), `drop_response_after_insert()` stores the entry and then closes the connection without
an answer (the client cannot tell whether it was posted), `set_auth_broken()` makes every request
401, `set_permissions()` withholds create/submit/..., and `requests` logs every call.

    with FrappeTestServer() as frappe:
        httpx.post(f"{frappe.url}/api/resource/Journal Entry", json=entry,
                   headers={"Authorization": frappe.auth_header})

One job per module: `doctypes` (the Journal Entry's fields), `chart` (company, accounts, cost
centres, fiscal years, parties), `rules` (ERPNext's validation), `store` (the stored entries),
`query` (lists), `errors` (Frappe's error envelope), `values` (Frappe's number and date handling),
`faults` (test hooks), `server` (the HTTP surface). Import from the package: its names are the
public interface.
"""

from __future__ import annotations

from sandbox.frappe.chart import DEFAULT_COMPANY, ROOT_TYPES, Account, Chart, Company, CostCenter
from sandbox.frappe.doctypes import (
    BANK_TRANSACTION_FIELDS,
    JE,
    JEA,
    JOURNAL_ENTRY_ACCOUNT_FIELDS,
    JOURNAL_ENTRY_FIELDS,
    MANDATORY_FIELDS,
    MANDATORY_ROW_FIELDS,
    NAMING_SERIES,
    POSTING_KEY_FIELD,
    POSTING_KEY_LABEL,
    REFERENCE_TYPES,
    VOUCHER_TYPES,
    DocField,
)
from sandbox.frappe.errors import FrappeError, msg_log_entry, throw
from sandbox.frappe.faults import RequestRecord
from sandbox.frappe.rules import JournalEntryRules
from sandbox.frappe.server import (
    DEFAULT_API_KEY,
    DEFAULT_API_SECRET,
    DEFAULT_USER,
    FrappeTestServer,
)
from sandbox.frappe.store import JournalEntryStore

__all__ = [
    "BANK_TRANSACTION_FIELDS",
    "DEFAULT_API_KEY",
    "DEFAULT_API_SECRET",
    "DEFAULT_COMPANY",
    "DEFAULT_USER",
    "JE",
    "JEA",
    "JOURNAL_ENTRY_ACCOUNT_FIELDS",
    "JOURNAL_ENTRY_FIELDS",
    "MANDATORY_FIELDS",
    "MANDATORY_ROW_FIELDS",
    "NAMING_SERIES",
    "POSTING_KEY_FIELD",
    "POSTING_KEY_LABEL",
    "REFERENCE_TYPES",
    "ROOT_TYPES",
    "VOUCHER_TYPES",
    "Account",
    "Chart",
    "Company",
    "CostCenter",
    "DocField",
    "FrappeError",
    "FrappeTestServer",
    "JournalEntryRules",
    "JournalEntryStore",
    "RequestRecord",
    "msg_log_entry",
    "throw",
]
