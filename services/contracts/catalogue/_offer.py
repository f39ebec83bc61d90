"""Offers and their terms: price, currency, territory, and the terms as published signals."""

import re
from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from services.contracts.catalogue._base import Schema, Use

# ISO 4217 currencies accepted for offers, with their number of minor-unit digits.
CURRENCY_MINOR_DIGITS: dict[str, int] = {
    "EUR": 2,
    "USD": 2,
    "GBP": 2,
    "CHF": 2,
    "CAD": 2,
    "AUD": 2,
    "SEK": 2,
    "NOK": 2,
    "DKK": 2,
    "JPY": 0,
}

MAX_PRICE_MINOR = 10**12
"""Above this a price is a typo (ten billion euros), not an offer."""

WORLD = "WORLD"

TERRITORY_CODE = re.compile(r"[A-Z]{2}")


def _territory_shape(code: str) -> str:
    # The shape only: which codes name a country is the catalogue's check (pycountry),
    # since the contracts hold no data the lab client would have to install.
    if code != WORLD and not TERRITORY_CODE.fullmatch(code):
        raise PydanticCustomError(
            "territory",
            "{code} is not a territory: give an ISO 3166-1 alpha-2 country code (e.g. GB) or WORLD",
            {"code": code},
        )
    return code


Territory = Annotated[str, AfterValidator(_territory_shape)]


class Terms(Schema):
    """Structured licence terms; canonicalised and hashed, so equal terms share one id."""

    uses: list[Use] = Field(min_length=1)
    commercial_use: bool
    attribution_required: bool
    territory: list[Territory] = Field(
        default_factory=lambda: ["WORLD"],
        min_length=1,
        description="ISO 3166-1 alpha-2 country codes, or WORLD",
    )
    duration_days: int = Field(ge=1, le=36_500)
    exclusivity_days: int = Field(default=0, ge=0, le=36_500)
    max_models: int | None = Field(default=None, ge=1)


class OfferIn(Schema):
    price_minor: int = Field(gt=0, le=MAX_PRICE_MINOR)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    terms: Terms


class OfferRead(Schema):
    id: UUID
    work_id: UUID
    price_minor: int
    currency: str
    terms_id: str = Field(description="sha256 of the canonical terms")
    terms: Terms
    published_at: datetime


class TermsSignals(Schema):
    """The same terms in machine-readable vocabularies a creator can publish on their site."""

    tdmrep: dict[str, object]
    odrl: dict[str, object]
    c2pa: dict[str, object]


class OfferPublished(Schema):
    offer_id: UUID
    work_id: UUID
    price_minor: int
    currency: str
    terms_id: str
    terms: Terms
    published_at: datetime
