"""The review route for flagged works (admins)."""

import uuid

from services.catalogue.errors import NotUnderReview
from services.catalogue.review.service import review_service
from services.catalogue.routes import CHANGE, Session, catalogue_router
from services.contracts.catalogue import ReviewDecision, WorkRead
from services.kit.errors import error_responses
from services.kit.internal_token import CurrentCaller

router = catalogue_router()


@router.post(
    "/works/{work_id}/review",
    responses=error_responses(*CHANGE, NotUnderReview),
)
async def review_work(
    work_id: uuid.UUID, decision: ReviewDecision, caller: CurrentCaller, session: Session
) -> WorkRead:
    """Decide on a flagged work (admins): accept lists it again, refuse withdraws it."""
    return await review_service.review(session, caller, work_id, decision)
