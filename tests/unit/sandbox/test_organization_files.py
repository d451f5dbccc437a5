"""The sandbox organizations' files: an organizations file the product reads, and ledger
configurations that load and name only accounts the Frappe stand-in's chart gives their
company (so each organization's entries can post)."""

from __future__ import annotations

import dataclasses

import pytest

from extract.organizations import read_organizations
from sandbox.organizations import ledger_config_text, organization_names, write_organizations
from transforms.config import DEFAULT_CONFIG, LedgerConfig


def test_the_organizations_file_is_what_the_product_reads(tmp_path):
    orgs = write_organizations(tmp_path / "site", 3)
    assert orgs.names == ["groene-vork", "blauwe-reiger", "rode-kaart"]
    assert [o.company for o in orgs.organizations] == [
        "Vereniging Groene Vork",
        "Vereniging Blauwe Reiger",
        "Vereniging Rode Kaart",
    ]
    assert [o.abbr for o in orgs.organizations] == ["VGV", "VBR", "VRK"]
    assert [o.seed for o in orgs.organizations] == [7, 8, 9]
    assert orgs["blauwe-reiger"].token_env == "MOLLIE_TOKEN_BLAUWE_REIGER"
    assert len({o.token for o in orgs.organizations}) == 3
    assert all(o.token.startswith("access_") for o in orgs.organizations)
    # Read from another working directory: the folders stay inside the written folder.
    read = read_organizations(orgs.file, data_dir=tmp_path / "elsewhere")
    for o, r in zip(orgs.organizations, read, strict=True):
        assert (r.name, r.token_env) == (o.name, o.token_env)
        assert r.ledger_config == o.ledger_config
        assert r.folder == o.folder == tmp_path / "site" / "orgs" / o.name
        assert r.bank_dir == o.bank_dir == o.folder / "bank"


def test_with_a_data_folder_the_product_default_folders_apply(tmp_path):
    orgs = write_organizations(tmp_path, ["groene-vork"], data_dir=tmp_path / "data")
    assert "folder" not in orgs.file.read_text(encoding="utf-8")
    assert orgs["groene-vork"].folder == tmp_path / "data" / "orgs" / "groene-vork"


def test_each_ledger_config_names_only_its_companys_accounts(tmp_path):
    orgs = write_organizations(tmp_path, 3, first_seed=20)
    assert [o.seed for o in orgs.organizations] == [20, 21, 22]
    chart = orgs.chart()
    for o in orgs.organizations:
        config = LedgerConfig.load(o.ledger_config, env={})
        assert config.company == o.company
        assert config.cost_center == f"Main - {o.abbr}"
        assert chart.cost_centers[config.cost_center].company == o.company
        named = {
            **config.accounts,
            **{f"clearing {c}": a for c, a in config.clearing_accounts.items()},
        }
        for role, name in named.items():
            account = chart.accounts.get(name)
            assert account is not None, f"{o.name}: {role} names {name}, not in the chart"
            assert account.company == o.company and not account.is_group and not account.disabled
        for currency, name in config.clearing_accounts.items():
            assert chart.currency_of(chart.accounts[name]) == currency


def test_a_copy_keeps_everything_but_the_company(tmp_path):
    orgs = write_organizations(tmp_path, 2)
    original = LedgerConfig.load(DEFAULT_CONFIG, env={})
    same = LedgerConfig.load(orgs["groene-vork"].ledger_config, env={})
    other = LedgerConfig.load(orgs["blauwe-reiger"].ledger_config, env={})
    assert dataclasses.replace(same, source="") == dataclasses.replace(original, source="")
    assert other.tolerances == original.tolerances
    assert other.vat_registered == original.vat_registered
    assert {r: a.replace(" - VBR", " - VGV") for r, a in other.accounts.items()} == (
        original.accounts
    )


def test_names_beyond_the_defaults_and_abbreviations_kept_apart(tmp_path):
    assert organization_names(5)[3:] == ["club-4", "club-5"]
    orgs = write_organizations(tmp_path, ["groene-vork", "grote-vis", "gele_vlag"])
    assert [o.abbr for o in orgs.organizations] == ["VGV", "VGV2", "VGV3"]
    assert orgs["gele_vlag"].token_env == "MOLLIE_TOKEN_GELE_VLAG"
    assert len(orgs.chart().companies) == 3


def test_unusable_names_are_refused(tmp_path):
    with pytest.raises(ValueError, match="repeat"):
        write_organizations(tmp_path, ["a", "a"])
    with pytest.raises(ValueError, match="same company"):
        write_organizations(tmp_path, ["a-b", "a_b"])
    with pytest.raises(ValueError, match="at least one"):
        write_organizations(tmp_path, 0)
    with pytest.raises(ValueError, match="a name is 1-63 lowercase"):
        write_organizations(tmp_path, ["Groene Vork"])


def test_a_template_of_another_shape_is_refused():
    template = DEFAULT_CONFIG.read_text(encoding="utf-8").replace(
        'bank = "Bank - VGV"', 'bank = "Bank VGV"'
    )
    with pytest.raises(ValueError, match="Bank VGV"):
        ledger_config_text(template, "Vereniging Blauwe Reiger", "VBR")
