"""Canonical licence terms: one JSON form per meaning, so equal terms hash to one id."""

import hashlib
import json

import pycountry

from services.contracts.catalogue import WORLD, Terms
from services.kit.errors import FieldError


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


def unknown_territories(terms: Terms) -> FieldError | None:
    """The territories that name no country of ISO 3166-1, as the field error to give."""
    unknown = [
        code
        for code in dict.fromkeys(terms.territory)
        if code != WORLD and pycountry.countries.get(alpha_2=code) is None
    ]
    if not unknown:
        return None
    return FieldError(
        "terms.territory",
        f"Not a country we know: {', '.join(unknown)}. Choose countries from the list, "
        "or worldwide.",
        "unknown_territory",
    )
