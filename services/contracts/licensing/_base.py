"""What the licensing contracts share: limits, constrained strings, the base schema."""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from services.contracts.catalogue import MAX_PRICE_MINOR
from services.contracts.text import NulFreeStr

MAX_BUNDLE_WORKS = 1_000
"""A bundle's works; a lab wanting more buys several bundles."""
MAX_AMOUNT_MINOR = MAX_PRICE_MINOR * MAX_BUNDLE_WORKS

LICENCE_CERTIFICATE_TYPE = "application/vnd.assent.licence-certificate+json"
"""The DSSE payload type of a licence certificate."""

Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
IdempotencyKey = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")
]
Reference = Annotated[
    NulFreeStr, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
]


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)
