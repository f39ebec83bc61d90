"""The review routes for works held as possible copies (admins)."""

import uuid
from typing import Annotated

from fastapi import Query

from services.catalogue.errors import NotUnderReview
from services.catalogue.review.service import review_service
from services.catalogue.routes import CHANGE, Session, catalogue_router
from services.contracts.catalogue import ReviewDecision, ReviewPage, ReviewQuery, WorkRead
from services.kit.errors import Forbidden, InvalidRequest, Unauthenticated, error_responses
from services.kit.internal_token import CurrentCaller

router = catalogue_router()


@router.get("/reviews", responses=error_responses(Unauthenticated, Forbidden, InvalidRequest))
async def review_queue(
    query: Annotated[ReviewQuery, Query()], caller: CurrentCaller, session: Session
) -> ReviewPage:
    """Works held for review, oldest first, each with the works it resembles (admins)."""
    return await review_service.queue(session, caller, query)


@router.post(
    "/works/{work_id}/review",
    responses=error_responses(*CHANGE, NotUnderReview),
)
async def review_work(
    work_id: uuid.UUID, decision: ReviewDecision, caller: CurrentCaller, session: Session
) -> WorkRead:
    """Decide on a held work (admins): accept lists it again, refuse withdraws it."""
    return await review_service.review(session, caller, work_id, decision)
