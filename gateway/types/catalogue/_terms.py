"""What a work is offered under: the creator's consent, the offer, its terms and price."""

from datetime import date, datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from gateway.context import Context
from gateway.types.errors import (
    Conflict,
    ConsentRequired,
    NotFound,
    Refusals,
    ValidationFailed,
    unavailable_in_place,
)
from gateway.types.scalars import BigInt
from services.contracts import catalogue as contract
from services.kit import errors

# The contracts' enums become GraphQL enums as they are (strawberry.enum marks the class).
ConsentKind = contract.ConsentKind
Use = contract.Use
StatementScope = contract.StatementScope
strawberry.enum(ConsentKind)
strawberry.enum(Use, description="What a licensee may do with a work.")
strawberry.enum(StatementScope, description="What a platform statement is agreed to for.")


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
class RightsAttestation:
    owns_rights: bool = strawberry.field(
        description="The creator owns or controls the rights in the work."
    )
    depicts_identifiable_people: bool
    holds_releases: bool = strawberry.field(
        description="The creator holds a release from each person the work depicts."
    )

    @classmethod
    def of(cls, attestation: contract.RightsAttestation) -> "RightsAttestation":
        return cls(
            owns_rights=attestation.owns_rights,
            depicts_identifiable_people=attestation.depicts_identifiable_people,
            holds_releases=attestation.holds_releases,
        )


@strawberry.type
class Consent:
    id: strawberry.ID
    sequence: int
    kind: ConsentKind
    uses: list[Use]
    statement_id: str = strawberry.field(
        description=f"The platform statement agreed to; {contract.LEGACY_STATEMENT_ID}: words "
        "recorded before the platform published its statements."
    )
    statement_version: str
    statement_sha256: str = strawberry.field(description="sha256 of the exact words (UTF-8).")
    attestation: RightsAttestation | None = strawberry.field(
        description="Null on a withdrawal, and on consents given before attestations."
    )
    given_by: strawberry.ID
    given_at: datetime

    @classmethod
    def of(cls, consent: contract.ConsentRead) -> "Consent":
        return cls(
            id=strawberry.ID(str(consent.id)),
            sequence=consent.sequence,
            kind=consent.kind,
            uses=list(consent.uses),
            statement_id=consent.statement_id,
            statement_version=consent.statement_version,
            statement_sha256=consent.statement_sha256,
            attestation=RightsAttestation.of(consent.attestation) if consent.attestation else None,
            given_by=strawberry.ID(str(consent.given_by)),
            given_at=consent.given_at,
        )

    @strawberry.field(
        description="The exact words the creator agreed to. Null, with a "
        "SERVICE_UNAVAILABLE error at its path, when the catalogue does not answer."
    )
    async def statement_text(self, info: Info[Context, None]) -> str | None:
        try:
            return await info.context.loaders.statement_texts.load(self.statement_sha256)
        except errors.ServiceUnavailable as error:
            raise unavailable_in_place(error) from error


@strawberry.type
class ConsentStatement:
    """Words the platform publishes for creators to agree to, one current one per scope."""

    id: str
    version: str
    scope: StatementScope
    current: bool = strawberry.field(description="The version a consent must name now.")
    published_on: date
    sha256: str
    text: str

    @classmethod
    def of(cls, statement: contract.StatementRead) -> "ConsentStatement":
        return cls(
            id=statement.id,
            version=statement.version,
            scope=statement.scope,
            current=statement.current,
            published_on=statement.published_on,
            sha256=statement.sha256,
            text=statement.text,
        )


@strawberry.input
class RightsAttestationInput:
    owns_rights: bool = strawberry.field(
        description="I own or control the rights in this work (required to consent)."
    )
    depicts_identifiable_people: bool
    holds_releases: bool = strawberry.field(
        default=False,
        description="I hold a release from each identifiable person the work depicts "
        "(required when it depicts any).",
    )


@strawberry.input
class ConsentInput:
    uses: list[Use]
    statement_id: str = strawberry.field(
        description="The current opt-in statement's id (see consentStatements); no other "
        "words are accepted."
    )
    statement_version: str
    attestation: RightsAttestationInput


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
