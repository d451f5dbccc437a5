"""ERPNext 15's Journal Entry validation, in Frappe's insert order (links, `validate()`,
`before_submit`, mandatory fields, `on_submit` and the GL Entry checks).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from sandbox.frappe.chart import Chart, Company
from sandbox.frappe.doctypes import (
    CHILD_STANDARD_FIELDS,
    COMPUTED_HEADER,
    COMPUTED_ROW,
    DATA_LENGTH,
    JE,
    JEA,
    JOURNAL_ENTRY_ACCOUNT_FIELDS,
    JOURNAL_ENTRY_FIELDS,
    KNOWN_LINK_TARGETS,
    MANDATORY_FIELDS,
    MANDATORY_ROW_FIELDS,
    NAMING_SERIES,
    PARTY_ACCOUNT_TYPES,
    POSTING_KEY_DOCFIELD,
    STANDARD_FIELDS,
    DocField,
)
from sandbox.frappe.errors import FrappeError, msg_log_entry, throw
from sandbox.frappe.values import Coercer, round_to

# After ERPNext's journal_entry.py, gl_entry.py and general_ledger.py.


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
        self.coerce = Coercer(strict)
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
        for key in COMPUTED_HEADER:
            head.pop(key, None)
        for row in rows:
            for key in COMPUTED_ROW:
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
            # ERPNext subtracts the two totals as floats and formats the float unrounded:
            # 100.01 against 100.0 reads "The difference is 0.010000000000005116".
            gap = float(head["total_debit"]) - float(head["total_credit"])
            raise throw(f"Total Debit must be equal to Total Credit. The difference is {gap}")
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
            # Only a missing value gets the default (Frappe's update_if_missing: `is None`);
            # an explicit "" stays empty and fails the P&L cost centre check at submit.
            if row.get("cost_center") is None and company is not None and company.cost_center:
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
            return value in c.parties or value in KNOWN_LINK_TARGETS
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
            expected = PARTY_ACCOUNT_TYPES.get(row["party_type"])
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
                if self.strict and amount != round_to(amount):
                    raise throw(
                        f"{where}{label} {amount} has more than 2 decimals (frappe test "
                        f"stand-in: ERPNext would round it to {round_to(amount)})",
                        source=None,
                    )
                row[key] = round_to(amount)
            rate = row["exchange_rate"]
            row["debit"] = round_to(row["debit_in_account_currency"] * rate)
            row["credit"] = round_to(row["credit_in_account_currency"] * rate)

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

    def _fiscal_year(self, doc: dict[str, Any]) -> None:
        """AccountsController.get_gl_dict → erpnext.accounts.utils.get_fiscal_years: a GL entry
        dated outside every fiscal year of the company is refused. ERPNext puts the message in
        the log (msgprint, not red) and raises FiscalYearError (a ValidationError: 417)."""
        day = date.fromisoformat(doc["posting_date"])
        if self.chart.fiscal_year_of(day, doc["company"]) is not None:
            return
        # formatdate with the system's default format, dd-mm-yyyy; frappe.bold is <strong>
        text = (
            f"Date {day:%d-%m-%Y} is not in any active Fiscal Year for "
            f"<strong>{doc['company']}</strong>"
        )
        raise FrappeError(
            417,
            "FiscalYearError",
            [msg_log_entry(text, raise_exception=False)],
            text=text,
            module="erpnext.accounts.utils",
            source="erpnext",
        )

    def on_submit(self, doc: dict[str, Any], name: str) -> None:
        """validate_cheque_info, then make_gl_entries' checks (general_ledger, GL Entry)."""
        if doc["voucher_type"] == "Bank Entry" and not (
            doc.get("cheque_no") and doc.get("cheque_date")
        ):
            raise throw("Reference No & Reference Date is required for Bank Entry")
        if doc.get("cheque_date") and not doc.get("cheque_no"):
            raise throw("Reference No is mandatory if you entered Reference Date")
        company = self.chart.companies[doc["company"]]
        self._fiscal_year(doc)
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


def docstatus_of(value: Any) -> int:
    if value in (None, "", 0, "0"):
        return 0
    if value in (1, "1"):
        return 1
    if value in (2, "2"):
        return 2
    raise FrappeError(417, "ValidationError", text=f"Invalid docstatus {value!r}")


def transition_error(old: int, new: int) -> FrappeError:
    # Document.check_docstatus_transition raises with a text but logs no message.
    names = {0: "Draft", 1: "Submitted", 2: "Cancelled"}
    return FrappeError(
        417,
        "DocstatusTransitionError",
        text=f"Cannot change docstatus from {old} ({names[old]}) to {new} ({names[new]})",
    )
