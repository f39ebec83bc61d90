"""The works an own-site kit covers, with what its files read of them."""

import uuid

from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload

from services.catalogue.models import Offer, Share, Work
from services.kit.repository import Repository

MAX_KIT_WORKS = 1_000
"""A creator's kit covers their newest listed works up to this many: crawlers read at
most 500 KiB of a robots.txt (RFC 9309)."""


class OwnSiteRepository(Repository[Work]):
    model = Work

    async def listed_works_of(self, creator_id: uuid.UUID) -> list[Work]:
        """The listed works the creator owns or holds a share of, newest first."""
        statement = (
            select(Work)
            .where(
                Work.listed,
                or_(
                    Work.owner_id == creator_id,
                    Work.id.in_(select(Share.work_id).where(Share.creator_id == creator_id)),
                ),
            )
            .options(
                joinedload(Work.current_version),
                joinedload(Work.pending_version),
                joinedload(Work.offer).joinedload(Offer.terms_record),
            )
            .order_by(Work.created_at.desc(), Work.id.desc())
            .limit(MAX_KIT_WORKS)
        )
        return await self.list(statement)
