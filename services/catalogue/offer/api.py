"""A work's offer route."""

import uuid

from services.catalogue.errors import ConsentRequired, WorkWithdrawn
from services.catalogue.offer.service import offer_service
from services.catalogue.routes import CHANGE, Session, catalogue_router
from services.contracts.catalogue import OfferIn, OfferRead
from services.kit.errors import error_responses
from services.kit.internal_token import CurrentCaller

router = catalogue_router()


@router.put(
    "/works/{work_id}/offer",
    responses=error_responses(*CHANGE, ConsentRequired, WorkWithdrawn),
)
async def set_offer(
    work_id: uuid.UUID, offer: OfferIn, caller: CurrentCaller, session: Session
) -> OfferRead:
    """Publish a price and terms (within the consent); it supersedes the previous offer."""
    return await offer_service.set_offer(session, caller, work_id, offer)
