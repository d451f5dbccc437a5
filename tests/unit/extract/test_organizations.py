"""The organizations list: zero configuration is today's single organization; a configured list
gives each organization its own token variable and folders, and refuses lists that would let
one organization read another's data."""

from __future__ import annotations

from pathlib import Path

import pytest

from extract.organizations import (
    ENV_ORGANIZATIONS,
    OrganizationsError,
    load_organizations,
    missing_tokens,
    read_organizations,
)

REPO = Path(__file__).resolve().parents[3]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "organizations.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_nothing_configured_is_the_single_default_organization():
    [org] = load_organizations(env={})
    assert org.name == "default" and org.is_default
    # Nothing of its own: it reads MOLLIE_ACCESS_TOKEN, MOLLIE_LEDGER_DB, … as before.
    assert (org.warehouse, org.published, org.bank_dir, org.ledger_config) == (None,) * 4
    assert org.token_env is None and org.token({"MOLLIE_ACCESS_TOKEN": "access_x"}) is None
    assert missing_tokens([org], env={}) == []


def test_the_example_file_gives_each_organization_its_own_folders(tmp_path):
    env = {ENV_ORGANIZATIONS: str(REPO / "config" / "organizations.example.toml")}
    orgs = load_organizations(env, data_dir=tmp_path)
    assert [o.name for o in orgs] == ["groene-vork", "blauwe-reiger"]
    groene, blauwe = orgs
    assert groene.warehouse == tmp_path / "orgs" / "groene-vork" / "mollie_ledger.duckdb"
    assert blauwe.export_dir == tmp_path / "orgs" / "blauwe-reiger" / "exports"
    assert groene.ledger_config == REPO / "config" / "ledger.toml"
    assert groene.ledger_config.is_file() and blauwe.ledger_config.is_file()

    def places(o):
        return {o.warehouse, o.published, o.export_dir, o.report_dir, o.bank_dir}

    assert not places(groene) & places(blauwe)
    assert all(p.is_relative_to(groene.folder) for p in places(groene))


def test_tokens_come_from_each_organizations_own_variable(tmp_path):
    orgs = read_organizations(
        write(
            tmp_path,
            '[organizations.a]\ntoken_env = "TOKEN_A"\nledger_config = "a.toml"\n'
            '[organizations.b]\ntoken_env = "TOKEN_B"\nledger_config = "b.toml"\n'
            'bank_dir = "/srv/bank/b"\n',
        )
    )
    env = {"TOKEN_A": " access_a \n", "TOKEN_B": ""}
    assert [o.token(env) for o in orgs] == ["access_a", None]
    assert missing_tokens(orgs, env) == ["b (TOKEN_B)"]
    assert orgs[1].bank_dir == Path("/srv/bank/b")
    assert orgs[0].ledger_config == tmp_path / "a.toml"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "lists no"),
        ('[organizations."Groene Vork"]\ntoken_env = "T"\nledger_config = "x"', "lowercase"),
        ('[organizations.a]\ntoken_env = "access_abc123"\nledger_config = "x"', "not the token"),
        ('[organizations.a]\ntoken_env = "T"', "ledger_config"),
        ('[organizations.a]\ntoken_env = "T"\nledger_config = "x"\ntoken = "y"', "unknown key"),
        (
            '[organizations.a]\ntoken_env = "T"\nledger_config = "x"\n'
            '[organizations.b]\ntoken_env = "T"\nledger_config = "y"',
            "b and a share token_env T",
        ),
        (
            '[organizations.a]\ntoken_env = "TA"\nledger_config = "x"\nfolder = "/srv/one"\n'
            '[organizations.b]\ntoken_env = "TB"\nledger_config = "y"\nfolder = "/srv/one"',
            "share folder",
        ),
        (
            '[organizations.a]\ntoken_env = "TA"\nledger_config = "x"\nbank_dir = "/srv/bank"\n'
            '[organizations.b]\ntoken_env = "TB"\nledger_config = "y"\nbank_dir = "/srv/bank"',
            "share bank_dir",
        ),
        ("[organizations\n", "not valid TOML"),
    ],
)
def test_lists_that_would_mix_organizations_or_leak_a_token_are_refused(tmp_path, text, message):
    with pytest.raises(OrganizationsError, match=message):
        read_organizations(write(tmp_path, text))


def test_a_missing_file_names_the_variable(tmp_path):
    with pytest.raises(OrganizationsError, match=f"{ENV_ORGANIZATIONS}=.*no such file"):
        load_organizations({ENV_ORGANIZATIONS: str(tmp_path / "nope.toml")})
