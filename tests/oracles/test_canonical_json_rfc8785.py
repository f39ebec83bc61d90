"""rfc8785 (JSON Canonicalization Scheme) against the canonical JSON we sign and hash.

Our canonical JSON is RFC 8785: floats written as JCS writes them, integers beyond 2**53
refused, and keys ordered by UTF-16 code units. The documents we signed before it was
(strings, booleans, null, integers a double holds, keys in the Basic Multilingual Plane)
give the same bytes as they did, so no signature or hash already issued changes.
"""

from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from assent.protocol import canonical_json
from services.catalogue.terms import canonical_json as canonical_terms_json
from services.catalogue.terms import canonical_terms
from services.contracts.catalogue import Terms, Use

# RFC 8785 takes I-JSON: numbers are doubles, so integers beyond 2**53 are refused.
SAFE_INTEGER = 2**53 - 1

# Keys beyond the BMP sort differently (see the expected failure below).
keys = st.text(st.characters(max_codepoint=0xFFFF, exclude_categories=["Cs"]))
scalars = st.none() | st.booleans() | st.integers(-SAFE_INTEGER, SAFE_INTEGER) | st.text()
documents: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(keys, inner, max_size=6),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(document=documents)
def test_canonical_json_is_rfc8785_on_documents_without_floats(document: Any) -> None:
    assert canonical_json(document) == rfc8785.dumps(document)


territories = st.lists(st.sampled_from(["WORLD", "FR", "DE", "US", "JP"]), min_size=1)
terms = st.builds(
    Terms,
    uses=st.lists(st.sampled_from(list(Use)), min_size=1),
    commercial_use=st.booleans(),
    attribution_required=st.booleans(),
    territory=territories,
    duration_days=st.integers(1, 36_500),
    exclusivity_days=st.integers(0, 36_500),
    max_models=st.none() | st.integers(1, SAFE_INTEGER),
)


@settings(max_examples=300, deadline=None)
@given(offered=terms)
def test_the_terms_id_is_the_hash_of_rfc8785_json(offered: Terms) -> None:
    canonical = canonical_terms(offered).model_dump(mode="json")
    assert canonical_terms_json(offered).encode() == rfc8785.dumps(canonical)


@pytest.mark.parametrize("number", [1.0, -0.0, 1e-7, 123456789012345680000.0])
def test_floats_are_written_as_rfc8785_writes_them(number: float) -> None:
    assert canonical_json({"n": number}) == rfc8785.dumps({"n": number})


def test_keys_are_ordered_by_utf16_code_units() -> None:
    document = {"\U0001f600": 1, "\ufb01": 2}
    assert canonical_json(document) == rfc8785.dumps(document)


def test_integers_a_double_cannot_hold_are_refused() -> None:
    with pytest.raises(ValueError, match="exceeds safe integer domain"):
        rfc8785.dumps({"n": 2**53 + 1})
    with pytest.raises(ValueError, match="integer"):
        canonical_json({"n": 2**53 + 1})
