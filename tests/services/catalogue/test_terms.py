"""Canonical terms: one JSON text, and so one id, per meaning."""

import hashlib
import json

from services.catalogue.terms import canonical_json, terms_id
from services.contracts.catalogue import Terms, Use


def _terms(**overrides: object) -> Terms:
    fields: dict[str, object] = {
        "uses": [Use.TRAINING, Use.EVALUATION],
        "commercial_use": True,
        "attribution_required": False,
        "territory": ["GB", "DE"],
        "duration_days": 30,
    }
    fields.update(overrides)
    return Terms.model_validate(fields)


def test_order_and_repetition_do_not_change_the_canonical_form() -> None:
    a = canonical_json(_terms())
    b = canonical_json(
        _terms(uses=[Use.EVALUATION, Use.TRAINING, Use.TRAINING], territory=["DE", "GB", "DE"])
    )

    assert a == b
    assert json.loads(a)["uses"] == ["evaluation", "training"]
    assert json.loads(a)["territory"] == ["DE", "GB"]


def test_the_canonical_form_has_sorted_keys_and_no_whitespace() -> None:
    canonical = canonical_json(_terms())

    assert canonical == json.dumps(json.loads(canonical), sort_keys=True, separators=(",", ":"))
    assert list(json.loads(canonical)) == sorted(json.loads(canonical))


def test_the_world_covers_every_territory() -> None:
    assert json.loads(canonical_json(_terms(territory=["FR", "WORLD"])))["territory"] == ["WORLD"]


def test_the_id_is_the_sha256_of_the_canonical_text() -> None:
    canonical = canonical_json(_terms())

    assert terms_id(canonical) == hashlib.sha256(canonical.encode()).hexdigest()
    assert terms_id(canonical) != terms_id(canonical_json(_terms(duration_days=31)))
