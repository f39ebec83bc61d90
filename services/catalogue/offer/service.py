"""A work's offer: a price and terms within the consent, each one superseding the last."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.access import owned_for_change, require_account, require_not_withdrawn
from services.catalogue.errors import ConsentRequired
from services.catalogue.listing import refresh_listing
from services.catalogue.offer.repository import OfferRepository
from services.catalogue.terms import unknown_territories
from services.contracts.catalogue import (
    CURRENCY_MINOR_DIGITS,
    OfferIn,
    OfferPublished,
    OfferRead,
    Use,
)
from services.contracts.events import Topic
from services.kit.errors import FieldError, InvalidRequest
from services.kit.internal_token import Caller
from services.kit.outbox import emit


class OfferService:
    async def set_offer(
        self, session: AsyncSession, caller: Caller, work_id: uuid.UUID, offer_in: OfferIn
    ) -> OfferRead:
        work = await owned_for_change(session, caller, work_id)
        require_not_withdrawn(work)
        consent = work.consent
        if consent is None or not consent.in_force:
            raise ConsentRequired("record the creator's consent before offering the work")
        problems = []
        if offer_in.currency not in CURRENCY_MINOR_DIGITS:
            problems.append(
                FieldError(
                    "currency",
                    f"offers are in one of {', '.join(sorted(CURRENCY_MINOR_DIGITS))}",
                    "unknown_currency",
                )
            )
        beyond_consent = set(offer_in.terms.uses) - {Use(use) for use in consent.uses}
        if beyond_consent:
            problems.append(
                FieldError(
                    "terms.uses",
                    f"not consented to: {', '.join(sorted(beyond_consent))}",
                    "not_consented",
                )
            )
        if territory_problem := unknown_territories(offer_in.terms):
            problems.append(territory_problem)
        if problems:
            raise InvalidRequest("the offer is not valid", fields=problems)
        offer = await OfferRepository(session).publish(
            work, offer_in, published_by=require_account(caller)
        )
        refresh_listing(work)
        await session.flush()
        read = OfferRead.model_validate(offer)
        emit(
            session,
            Topic.OFFER_PUBLISHED,
            OfferPublished(
                offer_id=read.id,
                work_id=read.work_id,
                price_minor=read.price_minor,
                currency=read.currency,
                terms_id=read.terms_id,
                terms=read.terms,
                published_at=read.published_at,
            ),
        )
        return read


offer_service = OfferService()
