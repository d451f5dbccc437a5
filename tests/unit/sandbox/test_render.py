"""Rendering details of sandbox objects that the quality gates look at."""

import re

from quality.pii_functions import card_numbers
from sandbox.render import paypal_reference


def test_paypal_references_are_shaped_like_paypals_and_never_like_a_card_number():
    refs = [paypal_reference(f"tr_{n:010d}") for n in range(50_000)]
    assert all(re.fullmatch(r"\d[A-Z]{2}\d{5}[A-Z]{2}\d{6}[A-Z]", r) for r in refs)
    assert len(set(refs)) == len(refs)
    # The privacy gate stops the exports on a full card number anywhere, raw JSON included.
    assert not [r for r in refs if card_numbers(f'{{"paypalReference":"{r}"}}')]
    assert paypal_reference("tr_x") == paypal_reference("tr_x")  # deterministic per payment
