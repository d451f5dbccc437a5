"""The site's masters: company, chart of accounts, cost centres, fiscal years and parties,
loaded from a TOML file or built in code.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

DEFAULT_COMPANY = "Vereniging Groene Vork"
ROOT_TYPES = ("Asset", "Liability", "Equity", "Income", "Expense")


@dataclass(frozen=True, slots=True)
class Company:
    name: str
    abbr: str
    default_currency: str = "EUR"
    # ERPNext fills a row's missing cost centre from the company's default one (the `:Company`
    # default of `cost_center`; ERPNext's setup gives every company "Main - ABBR"). None: a
    # company without one, where a P&L row without a cost centre fails the GL Entry check.
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


@dataclass(frozen=True, slots=True)
class FiscalYear:
    """An ERPNext Fiscal Year: GL entries may be dated only inside one (else FiscalYearError)."""

    name: str
    year_start_date: date
    year_end_date: date
    companies: tuple[str, ...] = ()  # ERPNext's Companies table: empty = every company

    def holds(self, day: date, company: str) -> bool:
        in_year = self.year_start_date <= day <= self.year_end_date
        return in_year and (not self.companies or company in self.companies)


def calendar_years(first: int, last: int) -> tuple[FiscalYear, ...]:
    """One fiscal year per calendar year, for every company (ERPNext's default shape)."""
    return tuple(FiscalYear(str(y), date(y, 1, 1), date(y, 12, 31)) for y in range(first, last + 1))


# What a chart without fiscal years of its own gets: a site that has been running for a while.
DEFAULT_FISCAL_YEARS = calendar_years(2020, 2030)


@dataclass(frozen=True)
class Chart:
    """Companies, accounts, cost centres, parties and fiscal years the server knows (its
    "masters")."""

    companies: Mapping[str, Company]
    accounts: Mapping[str, Account]
    cost_centers: Mapping[str, CostCenter]
    parties: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    fiscal_years: tuple[FiscalYear, ...] = DEFAULT_FISCAL_YEARS

    def fiscal_year_of(self, day: date, company: str) -> FiscalYear | None:
        return next((fy for fy in self.fiscal_years if fy.holds(day, company)), None)

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
        standard = cls.standard(vgv, "VGV")
        a = Account
        # another company's accounts: valid names, wrong company for VGV entries
        stray = [
            a("Bank - GVE", gve, "Asset", "Bank", account_currency="EUR"),
            a("Sales - GVE", gve, "Income", "Income Account", account_currency="EUR"),
        ]
        return cls(
            companies={**standard.companies, gve: Company(gve, "GVE", cost_center="Main - GVE")},
            accounts={**standard.accounts, **{x.name: x for x in stray}},
            cost_centers={**standard.cost_centers, "Main - GVE": CostCenter("Main - GVE", gve)},
            parties=standard.parties,
        )

    @classmethod
    def standard(cls, company: str, abbr: str) -> Chart:
        """One company's chart, shaped like ERPNext's standard chart: every account is
        "<Account> - <ABBR>" (the accounts config/ledger.toml names among them), its cost
        centres are the group "<company> - <ABBR>" and "Main - <ABBR>" (the company's default),
        and the parties are the customer "Webshop Customers" and the supplier "Mollie B.V."."""
        return cls(
            companies={company: Company(company, abbr, cost_center=f"Main - {abbr}")},
            accounts={x.name: x for x in _standard_accounts(company, abbr)},
            cost_centers={
                x.name: x
                for x in (
                    CostCenter(f"{company} - {abbr}", company, is_group=True),
                    CostCenter(f"Main - {abbr}", company, parent_cost_center=f"{company} - {abbr}"),
                )
            },
            parties={"Customer": ("Webshop Customers",), "Supplier": ("Mollie B.V.",)},
        )

    @classmethod
    def for_companies(cls, companies: Iterable[tuple[str, str]]) -> Chart:
        """One site holding the standard chart (`standard`) of each (company, abbreviation):
        several organizations' books side by side, each company with its own accounts and cost
        centres. Parties are shared, as ERPNext's Customers and Suppliers are site-wide."""
        return cls.combine(cls.standard(name, abbr) for name, abbr in companies)

    @classmethod
    def combine(cls, charts: Iterable[Chart]) -> Chart:
        """The masters of several charts on one site. Names must not repeat (ERPNext's
        " - ABBR" suffix keeps them apart); fiscal years are the first chart's."""
        charts = list(charts)
        if not charts:
            raise ValueError("combine needs at least one chart")
        companies: dict[str, Company] = {}
        accounts: dict[str, Account] = {}
        cost_centers: dict[str, CostCenter] = {}
        parties: dict[str, tuple[str, ...]] = {}
        for chart in charts:
            for what, into, items in (
                ("company", companies, chart.companies),
                ("account", accounts, chart.accounts),
                ("cost centre", cost_centers, chart.cost_centers),
            ):
                for name, item in items.items():
                    if name in into:
                        raise ValueError(
                            f"{what} {name!r} is in two charts: give each company its own "
                            "name and abbreviation"
                        )
                    into[name] = item
            for party_type, names in chart.parties.items():
                known = parties.get(party_type, ())
                parties[party_type] = known + tuple(n for n in names if n not in known)
        return cls(companies, accounts, cost_centers, parties, charts[0].fiscal_years)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Chart:
        """Build a chart from plain data (parsed TOML or JSON).

        Full form: `companies`, `accounts`, `cost_centers` (each: name → attributes of
        `Company` / `Account` / `CostCenter`), optional `parties` (party type → names) and
        optional `fiscal_years` (name → {year_start_date, year_end_date, companies}; default
        the calendar years 2020–2030). Short form: the mapping is just `accounts` (name →
        {company, root_type, account_type, is_group, account_currency, ...}); companies are then
        inferred from the accounts (the abbreviation from the " - ABBR" suffix, currency EUR)
        with a default cost centre "Main - ABBR", as ERPNext's setup creates.
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
            if attrs.get("books_closed_until") is not None:
                attrs["books_closed_until"] = _as_date(attrs["books_closed_until"])
            companies[n] = Company(name=n, **attrs)
        cost_in = data.get("cost_centers")
        if cost_in is None:  # each company's "Main - ABBR", its default as ERPNext's setup makes it
            cost_in = {f"Main - {c.abbr}": {"company": c.name} for c in companies.values()}
            companies = {
                n: c if c.cost_center else replace(c, cost_center=f"Main - {c.abbr}")
                for n, c in companies.items()
            }
        cost_centers = {n: CostCenter(name=n, **dict(v)) for n, v in cost_in.items()}
        parties = {k: tuple(v) for k, v in (data.get("parties") or {}).items()}
        years_in = data.get("fiscal_years")
        if years_in is None:
            return cls(companies, accounts, cost_centers, parties)
        years = tuple(
            FiscalYear(
                name,
                _as_date(v["year_start_date"]),
                _as_date(v["year_end_date"]),
                tuple(v.get("companies") or ()),
            )
            for name, v in years_in.items()
        )
        return cls(companies, accounts, cost_centers, parties, years)

    @classmethod
    def load(cls, path: str | Path) -> Chart:
        """Read a chart from a `.toml` or `.json` file (see `from_dict`)."""
        path = Path(path)
        if path.suffix == ".toml":
            return cls.from_dict(tomllib.loads(path.read_text(encoding="utf-8")))
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))


def _as_date(value: str | date) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)  # TOML has dates


# ERPNext's standard chart, as far as the ledger needs it; names without the " - ABBR" suffix.
# Groups, as ERPNext's standard chart nests them: (name, root type, account type, parent).
_STANDARD_GROUPS = (
    ("Application of Funds (Assets)", "Asset", "", None),
    ("Current Assets", "Asset", "", "Application of Funds (Assets)"),
    ("Bank Accounts", "Asset", "Bank", "Current Assets"),
    ("Accounts Receivable", "Asset", "", "Current Assets"),
    ("Source of Funds (Liabilities)", "Liability", "", None),
    ("Current Liabilities", "Liability", "", "Source of Funds (Liabilities)"),
    ("Duties and Taxes", "Liability", "Tax", "Current Liabilities"),
    ("Accounts Payable", "Liability", "", "Current Liabilities"),
    ("Income", "Income", "", None),
    ("Direct Income", "Income", "", "Income"),
    ("Expenses", "Expense", "", None),
    ("Indirect Expenses", "Expense", "", "Expenses"),
)
# The accounts entries post to: (name, root type, account type, parent, currency; None: the
# company's).
_STANDARD_LEAVES = (
    # Mollie clearing accounts, one per balance currency (docs/accounting.md), and the bank
    ("Mollie EUR", "Asset", "Bank", "Bank Accounts", "EUR"),
    ("Mollie GBP", "Asset", "Bank", "Bank Accounts", "GBP"),
    ("Bank", "Asset", "Bank", "Bank Accounts", "EUR"),
    ("Old Mollie Clearing", "Asset", "Bank", "Bank Accounts", "EUR"),  # disabled
    ("Debtors", "Asset", "Receivable", "Accounts Receivable", "EUR"),
    ("Creditors", "Liability", "Payable", "Accounts Payable", "EUR"),
    # ERPNext's charts keep VAT accounts under Duties and Taxes (Liability, type Tax), input
    # VAT included: it simply carries a debit balance.
    ("Input VAT", "Liability", "Tax", "Duties and Taxes", "EUR"),
    ("Sales", "Income", "Income Account", "Direct Income", "EUR"),
    ("Sales Returns", "Income", "Income Account", "Direct Income", "EUR"),
    ("Chargebacks", "Expense", "Expense Account", "Indirect Expenses", "EUR"),
    ("Payment Processing Fees", "Expense", "Expense Account", "Indirect Expenses", "EUR"),
    ("Rounding", "Expense", "Round Off", "Indirect Expenses", "EUR"),
    # The accounts the ledger configuration's further roles name (config/ledger.toml), placed
    # where an ERPNext chart would hold them, so a standard chart takes every role's entries:
    # platform commissions earned, parts routed to connected accounts, the rolling reserve held
    # by Mollie, a Mollie Capital loan, Mollie's balance corrections and movements between
    # one's own balances.
    ("Mollie Commissions", "Income", "Income Account", "Direct Income", "EUR"),
    ("Mollie Corrections", "Expense", "Expense Account", "Indirect Expenses", "EUR"),
    ("Connected Accounts", "Liability", "", "Current Liabilities", None),
    ("Mollie Capital Loan", "Liability", "", "Current Liabilities", None),
    ("Mollie Reserve", "Asset", "", "Current Assets", None),
    ("Mollie Internal Transfers", "Asset", "", "Current Assets", None),
)
_STANDARD_DISABLED = {"Old Mollie Clearing"}  # a disabled account, to test that check


def _standard_accounts(company: str, abbr: str) -> list[Account]:
    """ERPNext's standard chart's accounts for one company (see `Chart.standard`)."""

    def named(name: str) -> str:
        return f"{name} - {abbr}"

    groups = [
        Account(
            named(n),
            company,
            root,
            kind,
            is_group=True,
            parent_account=named(parent) if parent else None,
        )
        for n, root, kind, parent in _STANDARD_GROUPS
    ]
    leaves = [
        Account(
            named(n),
            company,
            root,
            kind,
            account_currency=currency,
            parent_account=named(parent),
            disabled=n in _STANDARD_DISABLED,
        )
        for n, root, kind, parent, currency in _STANDARD_LEAVES
    ]
    return groups + leaves
