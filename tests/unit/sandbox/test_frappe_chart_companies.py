"""The Frappe stand-in's chart for several companies on one site: each company gets ERPNext's
standard chart under its own abbreviation, and nothing of one company carries another's."""

from __future__ import annotations

import pytest

from sandbox.frappe import Chart

COMPANIES = [
    ("Vereniging Groene Vork", "VGV"),
    ("Vereniging Blauwe Reiger", "VBR"),
    ("Vereniging Rode Kaart", "VRK"),
]


def test_the_default_chart_is_the_standard_chart_plus_a_stray_company():
    default, standard = Chart.default(), Chart.standard("Vereniging Groene Vork", "VGV")
    stray = {n: a for n, a in default.accounts.items() if n not in standard.accounts}
    assert {n: default.accounts[n] for n in standard.accounts} == dict(standard.accounts)
    assert set(stray) == {"Bank - GVE", "Sales - GVE"}
    assert default.parties == standard.parties


def test_each_company_has_the_same_chart_under_its_own_abbreviation():
    chart = Chart.for_companies(COMPANIES)
    assert list(chart.companies) == [name for name, _ in COMPANIES]
    shape = {n.removesuffix(" - VGV") for n in Chart.standard(*COMPANIES[0]).accounts}
    for name, abbr in COMPANIES:
        own = {n: a for n, a in chart.accounts.items() if a.company == name}
        assert all(n.endswith(f" - {abbr}") for n in own)
        assert {n.removesuffix(f" - {abbr}") for n in own} == shape
        for acc in own.values():  # a parent is the same company's group
            if acc.parent_account is not None:
                parent = chart.accounts[acc.parent_account]
                assert parent.company == name and parent.is_group
        company = chart.companies[name]
        assert company.abbr == abbr and company.cost_center == f"Main - {abbr}"
        assert chart.cost_centers[f"Main - {abbr}"].company == name
        assert chart.cost_centers[f"{name} - {abbr}"].is_group
    assert len(chart.accounts) == 3 * len(shape)
    assert chart.parties == {"Customer": ("Webshop Customers",), "Supplier": ("Mollie B.V.",)}


def test_companies_that_would_share_names_are_refused():
    with pytest.raises(ValueError, match=r"account '.* - VGV' is in two charts"):
        Chart.for_companies([("Vereniging Groene Vork", "VGV"), ("Vereniging Grote Vis", "VGV")])
    with pytest.raises(ValueError, match="company 'A' is in two charts"):
        Chart.for_companies([("A", "A1"), ("A", "A2")])
    with pytest.raises(ValueError, match="at least one chart"):
        Chart.for_companies([])
