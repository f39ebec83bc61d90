"""Bundles' queries."""

import uuid

from sqlalchemy import (
    select,
)

from services.kit.repository import Page, Repository
from services.licensing.models import (
    Bundle,
)


class BundleRepository(Repository[Bundle]):
    model = Bundle

    async def page_of(self, buyer_id: uuid.UUID, *, after: str | None, limit: int) -> Page[Bundle]:
        return await self.paginate(
            select(Bundle).where(Bundle.buyer_id == buyer_id),
            order_by=[Bundle.created_at, Bundle.id],
            after=after,
            limit=limit,
            descending=True,
        )
