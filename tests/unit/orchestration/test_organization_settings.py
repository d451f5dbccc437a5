"""Each organization's settings: its own token and files, never the deployment's, and no two
organizations in one ERPNext company (orchestration.organizations)."""

from __future__ import annotations

from pathlib import Path

import pytest

from extract.organizations import Organization
from orchestration import organizations as orgs

BASE = {
    "MOLLIE_ACCESS_TOKEN": "access_deployment0000000000000000",
    "SOURCES__MOLLIE__ACCESS_TOKEN": "access_dltsecret00000000000000000",
    "MOLLIE_LEDGER_DB": "/srv/shared.duckdb",
    "MOLLIE_LEDGER_PUBLISHED_DB": "/srv/shared.published.duckdb",
    "MOLLIE_LEDGER_EXPORT_DIR": "/srv/exports",
    "MOLLIE_TOKEN_NORTH": "access_north00000000000000000000",
    "FRAPPE_URL": "https://erp.example.org",
}


def _org(name: str, folder: Path, config: Path | None = None) -> Organization:
    return Organization(
        name=name,
        token_env=f"MOLLIE_TOKEN_{name.upper()}",
        ledger_config=config or folder / "ledger.toml",
        folder=folder / name,
        bank_dir=folder / name / "bank",
    )


def test_the_default_organization_reads_the_deployments_settings_unchanged() -> None:
    assert orgs.organization_env(Organization(name="default"), BASE) == BASE


def test_a_listed_organization_gets_its_own_token_and_files(tmp_path) -> None:
    env = orgs.organization_env(_org("north", tmp_path), BASE)
    assert env["MOLLIE_ACCESS_TOKEN"] == "access_north00000000000000000000"
    assert "SOURCES__MOLLIE__ACCESS_TOKEN" not in env  # the shared dlt secret cannot leak in
    own = tmp_path / "north"
    assert env["MOLLIE_LEDGER_DB"] == str(own / "mollie_ledger.duckdb")
    assert env["MOLLIE_LEDGER_PUBLISHED_DB"] == str(own / "mollie_ledger.published.duckdb")
    assert env["MOLLIE_LEDGER_CONFIG"] == str(tmp_path / "ledger.toml")
    for name in (
        "MOLLIE_LEDGER_EXPORT_DIR",
        "MOLLIE_LEDGER_REPORT_DIR",
        "MOLLIE_LEDGER_BANK_DIR",
        "MOLLIE_LEDGER_QUALITY_DOCS",
        "MOLLIE_LEDGER_METRICS_FILE",
    ):
        assert Path(env[name]).is_relative_to(own), name
    assert env["FRAPPE_URL"] == BASE["FRAPPE_URL"]  # one site serves every company


def test_an_organization_without_its_token_never_falls_back_to_the_deployments(
    tmp_path,
) -> None:
    south = _org("south", tmp_path)
    env = orgs.organization_env(south, BASE)
    assert "MOLLIE_ACCESS_TOKEN" not in env
    message = orgs.missing_token(south, BASE)
    assert message is not None and "MOLLIE_TOKEN_SOUTH" in message and "south" in message
    assert orgs.missing_token(_org("north", tmp_path), BASE) is None


def _ledger(path: Path, company: str) -> Path:
    template = (Path(orgs.__file__).parents[1] / "config" / "ledger.toml").read_text()
    path.write_text(template.replace("Vereniging Groene Vork", company, 1))
    return path


def test_two_organizations_in_one_erpnext_company_are_refused(tmp_path, monkeypatch) -> None:
    north = _org("north", tmp_path, _ledger(tmp_path / "north.toml", "Noord"))
    south = _org("south", tmp_path, _ledger(tmp_path / "south.toml", "Noord"))
    west = _org("west", tmp_path, _ledger(tmp_path / "west.toml", "West"))
    monkeypatch.setattr(orgs, "MANY", True)
    monkeypatch.setattr(orgs, "ORGANIZATIONS", [north, south, west])
    clash = orgs.company_clash(north)
    assert clash is not None and "'Noord'" in clash and "south" in clash
    assert orgs.company_clash(west) is None


def test_an_unknown_partition_says_which_organizations_there_are(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(orgs, "MANY", True)
    monkeypatch.setattr(orgs, "BY_NAME", {"north": _org("north", tmp_path)})
    with pytest.raises(orgs.OrganizationsError, match="north"):
        orgs.organization("gone")
    with pytest.raises(orgs.OrganizationsError, match="choose one"):
        orgs.organization(None)
    assert orgs.organization("north").name == "north"
