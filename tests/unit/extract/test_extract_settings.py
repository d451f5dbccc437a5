"""Settings: environment, secrets, token classification, testmode and org-only endpoint rules."""

from __future__ import annotations

import pytest

from extract.settings import (
    DEFAULT_BASE_URL,
    PAGE_SIZE,
    ClientSettings,
    accepts_testmode,
    is_org_only,
    token_kind,
)

SECRET = "access_TopSecretValue42"


def test_defaults() -> None:
    settings = ClientSettings.from_env({})
    assert settings.base_url == DEFAULT_BASE_URL == "https://api.mollie.com/v2"
    assert settings.token == ""
    assert settings.testmode is False
    assert PAGE_SIZE == 250


def test_token_from_env_then_dlt_secret() -> None:
    assert ClientSettings.from_env({"MOLLIE_ACCESS_TOKEN": SECRET}).token == SECRET
    assert ClientSettings.from_env({"SOURCES__MOLLIE__ACCESS_TOKEN": SECRET}).token == SECRET
    both = {"MOLLIE_ACCESS_TOKEN": SECRET, "SOURCES__MOLLIE__ACCESS_TOKEN": "access_other"}
    assert ClientSettings.from_env(both).token == SECRET


def test_base_url_override_and_trailing_slash() -> None:
    settings = ClientSettings.from_env({"MOLLIE_API_BASE_URL": "http://127.0.0.1:8000/v2/"})
    assert settings.base_url == "http://127.0.0.1:8000/v2"


def test_overrides_win_over_env() -> None:
    settings = ClientSettings.from_env({"MOLLIE_TESTMODE": "true"}, testmode=False, max_retries=1)
    assert settings.testmode is False
    assert settings.max_retries == 1


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("1", True), ("no", False)])
def test_testmode_from_env(raw: str, expected: bool) -> None:
    assert ClientSettings.from_env({"MOLLIE_TESTMODE": raw}).testmode is expected


def test_invalid_values_are_refused() -> None:
    with pytest.raises(ValueError, match="MOLLIE_TESTMODE"):
        ClientSettings.from_env({"MOLLIE_TESTMODE": "maybe"})
    with pytest.raises(ValueError, match="MOLLIE_API_BASE_URL"):
        ClientSettings(base_url="api.mollie.com/v2")
    with pytest.raises(ValueError):
        ClientSettings(burst=0)


def test_token_not_in_repr() -> None:
    settings = ClientSettings(token=SECRET)
    assert SECRET not in repr(settings)
    assert SECRET not in str(settings)
    assert settings.token_kind == "organization"


@pytest.mark.parametrize(
    ("token", "kind"),
    [("access_x", "organization"), ("test_x", "profile"), ("live_x", "profile"), ("x", "unknown")],
)
def test_token_kind(token: str, kind: str) -> None:
    assert token_kind(token) == kind


@pytest.mark.parametrize(
    ("path", "org_only"),
    [
        ("/balances", True),
        ("/balances/primary/report", True),
        ("/settlements/stl_1/payments", True),
        ("/invoices", True),
        ("/organizations/me", True),
        ("/payments", False),
        ("/chargebacks", False),
        ("/balancesheet", False),
    ],
)
def test_org_only_paths(path: str, org_only: bool) -> None:
    assert is_org_only(path) is org_only


@pytest.mark.parametrize(
    ("path", "accepted"),
    [
        ("/payments", True),
        ("/balances", True),
        ("/balances/bal_1/transactions", True),
        ("/balances/primary/transactions", True),
        ("/balances/bal_1/report", True),
        ("/balances/primary", False),
        ("/organizations/me", False),
        ("/organizations/org_1", True),
        ("/settlements", False),
        ("/settlements/stl_1/payments", False),
        ("/settlements/stl_1/chargebacks", True),
        ("/invoices", False),
    ],
)
def test_testmode_supported_endpoints(path: str, accepted: bool) -> None:
    assert accepts_testmode(path) is accepted
