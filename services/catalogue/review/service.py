"""Review of a flagged work: a file someone else already listed waits for an admin."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.access import read_work, visible_work
from services.catalogue.errors import NotUnderReview
from services.catalogue.listing import refresh_listing
from services.catalogue.work.service import mark_withdrawn
from services.contracts.catalogue import ReviewDecision, ReviewStatus, WorkRead, WorkStatus
from services.contracts.roles import Role
from services.kit.db import utcnow
from services.kit.errors import Forbidden
from services.kit.internal_token import Caller


class ReviewService:
    async def review(
        self,
        session: AsyncSession,
        caller: Caller,
        work_id: uuid.UUID,
        decision: ReviewDecision,
    ) -> WorkRead:
        work = await visible_work(session, caller, work_id, lock=True)
        if not caller.has(Role.ADMIN):
            raise Forbidden("only an admin reviews flagged works")
        if work.review_status != ReviewStatus.FLAGGED or work.status == WorkStatus.WITHDRAWN:
            raise NotUnderReview("this work is not awaiting a review")
        work.review_note = decision.note
        work.reviewed_by = caller.account_id
        work.reviewed_at = utcnow()
        if decision.accept:
            work.review_status = ReviewStatus.CLEAR
            refresh_listing(work)
        else:
            # Refused: the file is someone else's, so it leaves the catalogue for good.
            mark_withdrawn(session, caller, work)
        await session.flush()
        return await read_work(session, work.id)


review_service = ReviewService()
