"""The shipped configuration templates load and say what the code reads."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from transforms.config import ACCOUNT_ROLES, ConfigError, LedgerConfig

ROOT = Path(__file__).resolve().parents[3]


def test_default_and_example_configs_load():
    default = LedgerConfig.load(ROOT / "config" / "ledger.toml", env={})
    example = LedgerConfig.load(ROOT / "config" / "ledger.example.toml", env={})
    assert set(default.accounts) == set(ACCOUNT_ROLES) == set(example.accounts)
    assert example.company == "Acme Webshop B.V."
    assert example.accounts["bank"] == "ING Zakelijk - ACME"
    assert example.tolerances["settlement_ledger_net"] == Decimal(0)  # kept from the default


def test_env_example_names_every_variable_the_docs_mention():
    names = {
        line.split("=", 1)[0].lstrip("# ").strip()
        for line in (ROOT / ".env.example").read_text().splitlines()
        if "=" in line
    }
    for required in (
        "MOLLIE_ACCESS_TOKEN",
        "MOLLIE_LEDGER_PII_KEY",
        "MOLLIE_LEDGER_DB",
        "FRAPPE_URL",
        "FRAPPE_API_KEY",
        "FRAPPE_API_SECRET",
        "MOLLIE_WEBHOOK_SECRETS",
    ):
        assert required in names


def test_pii_key_is_required_with_a_real_token(tmp_path):
    config = LedgerConfig.load(env={})
    assert config.require_pii_key(using_sandbox=True)
    with pytest.raises(ConfigError, match="MOLLIE_LEDGER_PII_KEY"):
        config.require_pii_key(using_sandbox=False)


def test_bad_config_is_a_clear_error(tmp_path):
    bad = tmp_path / "ledger.toml"
    bad.write_text('[tolerances]\nsettlement_ledger_net = "a cent"\n')
    with pytest.raises(ConfigError, match="settlement_ledger_net"):
        LedgerConfig.load(bad, env={})
    with pytest.raises(ConfigError, match="does not exist"):
        LedgerConfig.load(tmp_path / "missing.toml", env={})
