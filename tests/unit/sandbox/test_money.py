from decimal import Decimal

import pytest

from sandbox.money import fmt, percent_of, round_units, units
from sandbox.pricing import PAYMENT_PRICES, gross_fee


def test_units_roundtrip_is_exact():
    for text in ("0.01", "-43.2000", "86.1000", "123456789.99", "0.0609"):
        assert Decimal(fmt(units(text), 4)) == Decimal(text)


def test_more_than_four_decimals_is_refused():
    with pytest.raises(ValueError):
        units("0.00001")


def test_formatting_never_rounds_silently():
    with pytest.raises(ValueError):
        fmt(units("0.2239"), 2)


def test_half_even_rounding():
    assert round_units(units("0.125")) == units("0.12")
    assert round_units(units("0.135")) == units("0.14")
    assert round_units(units("-0.125")) == units("-0.12")


def test_creditcard_fee_and_vat():
    net = PAYMENT_PRICES["creditcard"].net_fee(units("23.45"))
    assert net == units("0.6721")  # 0.25 + 1.8 % of 23.45 = 0.4221
    assert gross_fee(net) == units("0.81")  # 0.6721 × 1.21 = 0.813241
    assert percent_of(units("100.00"), "21") == units("21.00")
