"""Canonical licence terms: one JSON form per meaning, so equal terms hash to one id."""

import hashlib
import json

from services.contracts.catalogue import Terms

WORLD = "WORLD"


def canonical_terms(terms: Terms) -> Terms:
    """Sorted, de-duplicated lists; a territory list naming WORLD is just WORLD."""
    territory = sorted(set(terms.territory))
    return terms.model_copy(
        update={
            "uses": sorted(set(terms.uses)),
            "territory": [WORLD] if WORLD in territory else territory,
        }
    )


def canonical_json(terms: Terms) -> str:
    """Sorted keys and no whitespace: anyone can rebuild these bytes from the terms."""
    return json.dumps(
        canonical_terms(terms).model_dump(mode="json"), sort_keys=True, separators=(",", ":")
    )


def terms_id(canonical: str) -> str:
    return hashlib.sha256(canonical.encode()).hexdigest()
