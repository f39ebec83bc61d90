"""What a work is offered under: the creator's consent, the offer, its terms and price."""

from datetime import datetime
from typing import Annotated

import strawberry

from gateway.types.errors import (
    Conflict,
    ConsentRequired,
    NotFound,
    Refusals,
    ValidationFailed,
)
from gateway.types.scalars import BigInt
from services.contracts import catalogue as contract

# The contracts' enums become GraphQL enums as they are (strawberry.enum marks the class).
ConsentKind = contract.ConsentKind
Use = contract.Use
strawberry.enum(ConsentKind)
strawberry.enum(Use, description="What a licensee may do with a work.")


@strawberry.type
class Money:
    amount_minor: BigInt = strawberry.field(description="Integer minor units (cents).")
    currency: str


@strawberry.type
class Terms:
    uses: list[Use]
    commercial_use: bool
    attribution_required: bool
    territory: list[str] = strawberry.field(description="ISO 3166 codes, or WORLD.")
    duration_days: int
    exclusivity_days: int
    max_models: int | None

    @classmethod
    def of(cls, terms: contract.Terms) -> "Terms":
        return cls(
            uses=list(terms.uses),
            commercial_use=terms.commercial_use,
            attribution_required=terms.attribution_required,
            territory=list(terms.territory),
            duration_days=terms.duration_days,
            exclusivity_days=terms.exclusivity_days,
            max_models=terms.max_models,
        )


@strawberry.type
class Offer:
    id: strawberry.ID
    price: Money
    terms_id: str = strawberry.field(description="sha256 of the canonical terms.")
    terms: Terms
    published_at: datetime

    @classmethod
    def of(cls, offer: contract.OfferRead) -> "Offer":
        return cls(
            id=strawberry.ID(str(offer.id)),
            price=Money(amount_minor=BigInt(offer.price_minor), currency=offer.currency),
            terms_id=offer.terms_id,
            terms=Terms.of(offer.terms),
            published_at=offer.published_at,
        )


@strawberry.type
class Consent:
    id: strawberry.ID
    sequence: int
    kind: ConsentKind
    uses: list[Use]
    statement_text: str
    statement_version: str
    given_by: strawberry.ID
    given_at: datetime

    @classmethod
    def of(cls, consent: contract.ConsentRead) -> "Consent":
        return cls(
            id=strawberry.ID(str(consent.id)),
            sequence=consent.sequence,
            kind=consent.kind,
            uses=list(consent.uses),
            statement_text=consent.statement_text,
            statement_version=consent.statement_version,
            given_by=strawberry.ID(str(consent.given_by)),
            given_at=consent.given_at,
        )


@strawberry.input
class ConsentInput:
    uses: list[Use]
    statement_text: str = strawberry.field(description="The words the creator agreed to.")
    statement_version: str


@strawberry.input
class TermsInput:
    uses: list[Use]
    commercial_use: bool
    attribution_required: bool
    territory: list[str] = strawberry.field(default_factory=lambda: ["WORLD"])
    duration_days: int
    exclusivity_days: int = 0
    max_models: int | None = None


@strawberry.input
class OfferInput:
    price_minor: BigInt
    currency: str
    terms: TermsInput


@strawberry.type
class ConsentRecorded:
    consent: Consent


@strawberry.type
class OfferSet:
    offer: Offer


ConsentResult = Annotated[
    ConsentRecorded | ValidationFailed | NotFound | Conflict | Refusals,
    strawberry.union("ConsentResult"),
]
SetOfferResult = Annotated[
    OfferSet | ConsentRequired | ValidationFailed | NotFound | Conflict | Refusals,
    strawberry.union("SetOfferResult"),
]
