"""Review of a held work: a file that copies, or nearly copies, another creator's work
waits for an admin, who sees it beside the works it resembles."""

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.access import read_work, require_account, visible_work
from services.catalogue.errors import NotUnderReview
from services.catalogue.likeness.repository import DuplicateMatchRepository
from services.catalogue.listing import refresh_listing
from services.catalogue.models import Work
from services.catalogue.upload.duplicates import SAME_FILE
from services.catalogue.work.repository import WorkRepository
from services.catalogue.work.service import mark_withdrawn
from services.contracts.catalogue import (
    DuplicateMatchRead,
    ReviewDecision,
    ReviewItem,
    ReviewPage,
    ReviewQuery,
    ReviewStatus,
    WorkRead,
    WorkReviewed,
    WorkStatus,
)
from services.contracts.events import Topic
from services.contracts.roles import Role
from services.kit.db import utcnow
from services.kit.errors import Forbidden
from services.kit.internal_token import Caller
from services.kit.outbox import emit
from services.kit.repository import Repository


class HeldWorkRepository(Repository[Work]):
    model = Work


def _require_admin(caller: Caller) -> uuid.UUID:
    reviewer = require_account(caller)
    if not caller.has(Role.ADMIN):
        raise Forbidden("only an admin reviews flagged works")
    return reviewer


class ReviewService:
    async def queue(self, session: AsyncSession, caller: Caller, query: ReviewQuery) -> ReviewPage:
        """Works awaiting a decision, oldest first, each with the works it resembles."""
        _require_admin(caller)
        held = select(Work).where(
            Work.review_status == ReviewStatus.FLAGGED, Work.status != WorkStatus.WITHDRAWN
        )
        page = await HeldWorkRepository(session).paginate(
            held, order_by=[Work.created_at, Work.id], after=query.after, limit=query.first
        )
        ids = [work.id for work in page.items]
        works = {work.id: work for work in await WorkRepository(session).read_many(ids)}
        matches: dict[uuid.UUID, list[DuplicateMatchRead]] = {work_id: [] for work_id in ids}
        for match in await DuplicateMatchRepository(session).of_works(ids):
            matches[match.work_id].append(
                DuplicateMatchRead(
                    work_id=match.matched_work_id, kind=match.kind, score=match.score
                )
            )
        items = [
            ReviewItem(
                work=works[work.id],
                # Works held before near copies were caught carry no reason of their own.
                reason=work.review_note or SAME_FILE,
                matches=matches[work.id],
            )
            for work in page.items
        ]
        return ReviewPage(items=items, next_cursor=page.next_cursor)

    async def review(
        self,
        session: AsyncSession,
        caller: Caller,
        work_id: uuid.UUID,
        decision: ReviewDecision,
    ) -> WorkRead:
        work = await visible_work(session, caller, work_id, lock=True)
        reviewer = _require_admin(caller)
        if work.review_status != ReviewStatus.FLAGGED or work.status == WorkStatus.WITHDRAWN:
            raise NotUnderReview("this work is not awaiting a review")
        work.review_note = decision.note
        work.reviewed_by = reviewer
        work.reviewed_at = utcnow()
        if decision.accept:
            work.review_status = ReviewStatus.CLEAR
            refresh_listing(work)
        else:
            # Refused: the file is someone else's, so it leaves the catalogue for good.
            mark_withdrawn(session, caller, work)
        emit(
            session,
            Topic.WORK_REVIEWED,
            WorkReviewed(
                work_id=work.id,
                reviewed_by=reviewer,
                reviewed_at=work.reviewed_at,
                accepted=decision.accept,
                note=decision.note,
            ),
        )
        await session.flush()
        return await read_work(session, work.id)


review_service = ReviewService()
