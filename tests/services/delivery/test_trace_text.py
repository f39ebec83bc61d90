"""Reading fingerprints out of any text, and the arithmetic of the evidence."""

import base64
import itertools
import json
import secrets

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.delivery.trace.reading import chance_match, confidence, find_tokens, order_agreement


def test_tokens_are_exactly_32_hex_digits_in_order_of_first_appearance() -> None:
    first, second = secrets.token_hex(16), secrets.token_hex(16)
    sha256, uuid_hex = secrets.token_hex(32), secrets.token_hex(16) + "ab"
    text = f"{second.upper()} then /downloads/x/{first} and {sha256}, {uuid_hex}, {second}"
    assert find_tokens(text).fingerprints == [second, first]


def test_a_base64_payload_is_read_whole_or_cut_at_either_end() -> None:
    fingerprints = [secrets.token_hex(16) for _ in range(20)]
    payload = base64.b64encode(json.dumps({"entries": fingerprints}).encode()).decode()
    for text in (payload, payload[:-37], payload[5:], payload[7:-3]):
        tokens = find_tokens(f'{{"payload": "{text}"')
        assert set(tokens.fingerprints) <= set(fingerprints)
        assert len(tokens.fingerprints) >= 17
        assert tokens.from_payload == len(tokens.fingerprints)


@given(st.lists(st.integers(min_value=0), max_size=40, unique=True))
def test_order_agreement_is_the_share_of_pairs_in_order(positions: list[int]) -> None:
    pairs = list(itertools.combinations(positions, 2))
    if not pairs:
        assert order_agreement(positions) is None
        return
    in_order = sum(a < b for a, b in pairs) / len(pairs)
    assert order_agreement(positions) == pytest.approx(in_order)


def test_confidence_is_the_share_of_the_matches_when_chance_is_negligible() -> None:
    assert confidence(matched=10, matched_all=10, examined=10, delivery_entries=200) == 1.0
    assert confidence(matched=9, matched_all=10, examined=10, delivery_entries=200) == 0.9
    assert confidence(matched=0, matched_all=0, examined=10, delivery_entries=200) == 0.0
    assert chance_match(10**6, 10**6, 1) < 1e-26
    assert chance_match(2**64, 2**64, 2) == 1.0
