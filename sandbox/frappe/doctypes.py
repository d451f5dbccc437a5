"""What a Journal Entry is on an ERPNext 15 site: its fields and their types, the voucher and
reference types, the mandatory fields, and the custom field the exporter posts.
"""

from __future__ import annotations

from dataclasses import dataclass

# The unique custom field the exporter posts so nothing posts twice
# (export/fixtures/custom_field.json).
POSTING_KEY_FIELD = "mollie_posting_key"
POSTING_KEY_LABEL = "Mollie Posting Key"

JE = "Journal Entry"
JEA = "Journal Entry Account"
NAMING_SERIES = "ACC-JV-.YYYY.-"
DATA_LENGTH = 140  # Frappe's varchar length for Data fields


# Doctype schema: the fields this server accepts, from ERPNext 15's journal_entry.json and
# journal_entry_account.json (layout fields left out); a test checks every name, type, label and
# option against tests/fixtures/erpnext/journal_entry_doctypes.json so a typo cannot hide here.


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
COMPUTED_HEADER = (
    "total_debit",
    "total_credit",
    "difference",
    "total_amount",
    "total_amount_currency",
    "total_amount_in_words",
    "remark",
)
COMPUTED_ROW = (
    "account_type",
    "account_currency",
    "debit",
    "credit",
    "balance",
    "party_balance",
    "against_account",
)

# Link targets this server keeps records of; a value pointing anywhere else cannot be found.
KNOWN_LINK_TARGETS = frozenset({"Company", "Account", "Cost Center", "Currency", JE, "DocType"})
PARTY_ACCOUNT_TYPES = {"Customer": "Receivable", "Supplier": "Payable"}

# Bank Transaction fields (ERPNext's bank_transaction.json of 2023-03-31).
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
