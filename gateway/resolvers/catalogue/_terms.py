"""A creator's consent to uses of a work, and the offer (price and terms) within it."""

import pydantic
import strawberry
from strawberry.types import Info

from gateway.context import Context
from gateway.resolvers.catalogue._inputs import on_input_paths, owner_only, parse_work_id
from gateway.types.catalogue import Consent as ConsentType
from gateway.types.catalogue import (
    ConsentInput,
    ConsentRecorded,
    ConsentResult,
    ConsentStatement,
    OfferInput,
    OfferSet,
    SetOfferResult,
)
from gateway.types.catalogue import Offer as OfferType
from gateway.types.errors import (
    REFUSALS,
    Conflict,
    ConsentRequired,
    NotFound,
    ValidationFailed,
    failure,
)
from services.contracts import catalogue as contract
from services.kit import errors


@strawberry.type
class TermsQuery:
    @strawberry.field(
        description="The statements the platform publishes for creators to agree to, with "
        "their exact words; a consent names the current one of its scope."
    )
    async def consent_statements(self, info: Info[Context, None]) -> list[ConsentStatement]:
        ctx = info.context
        return [
            ConsentStatement.of(statement)
            for statement in await ctx.catalogue.statements(ctx.principal)
        ]


@strawberry.type
class TermsMutation:
    @strawberry.mutation(
        description="Record your explicit opt-in for these uses. A new record each time: "
        "consent is never edited, only revised or withdrawn."
    )
    async def give_consent(
        self, info: Info[Context, None], work_id: strawberry.ID, input: ConsentInput
    ) -> ConsentResult:
        ctx = info.context
        try:
            principal = ctx.require_principal()
            attestation = input.attestation
            # Validated as one document, so a refused attestation names its path in the input.
            consent = contract.ConsentIn.model_validate(
                {
                    "uses": list(input.uses),
                    "statement_id": input.statement_id,
                    "statement_version": input.statement_version,
                    "attestation": {
                        "owns_rights": attestation.owns_rights,
                        "depicts_identifiable_people": attestation.depicts_identifiable_people,
                        "holds_releases": attestation.holds_releases,
                    },
                }
            )
            recorded = await ctx.catalogue.give_consent(principal, parse_work_id(work_id), consent)
        except (errors.AssentError, pydantic.ValidationError) as error:
            return failure(
                on_input_paths(owner_only(error)), ValidationFailed, NotFound, Conflict, *REFUSALS
            )
        return ConsentRecorded(consent=ConsentType.of(recorded))

    @strawberry.mutation(
        description="Withdraw consent, in the current withdrawal statement's words (see "
        "consentStatements): the work leaves sale at once."
    )
    async def withdraw_consent(
        self,
        info: Info[Context, None],
        work_id: strawberry.ID,
        statement_id: str,
        statement_version: str,
    ) -> ConsentResult:
        ctx = info.context
        try:
            principal = ctx.require_principal()
            withdrawal = contract.ConsentWithdrawIn(
                statement_id=statement_id, statement_version=statement_version
            )
            recorded = await ctx.catalogue.withdraw_consent(
                principal, parse_work_id(work_id), withdrawal
            )
        except (errors.AssentError, pydantic.ValidationError) as error:
            return failure(
                on_input_paths(owner_only(error)), ValidationFailed, NotFound, Conflict, *REFUSALS
            )
        return ConsentRecorded(consent=ConsentType.of(recorded))

    @strawberry.mutation(
        description="Set the price and terms; uses must be within your consent. Quotes "
        "already issued keep the price they locked."
    )
    async def set_offer(
        self, info: Info[Context, None], work_id: strawberry.ID, input: OfferInput
    ) -> SetOfferResult:
        ctx = info.context
        try:
            principal = ctx.require_principal()
            terms = input.terms
            offer = contract.OfferIn(
                price_minor=input.price_minor,
                currency=input.currency,
                terms=contract.Terms(
                    uses=list(terms.uses),
                    commercial_use=terms.commercial_use,
                    attribution_required=terms.attribution_required,
                    territory=list(terms.territory),
                    duration_days=terms.duration_days,
                    exclusivity_days=terms.exclusivity_days,
                    max_models=terms.max_models,
                ),
            )
            published = await ctx.catalogue.set_offer(principal, parse_work_id(work_id), offer)
        except (errors.AssentError, pydantic.ValidationError) as error:
            return failure(
                on_input_paths(owner_only(error)),
                ValidationFailed,
                ConsentRequired,
                NotFound,
                Conflict,
                *REFUSALS,
            )
        return OfferSet(offer=OfferType.of(published))
