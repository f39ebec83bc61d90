"""Shard sets and their shards."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from services.contracts.shards import ShardSetStatus
from services.delivery.shards.models import Shard, ShardSet
from services.kit.repository import Repository


class ShardSetRepository(Repository[ShardSet]):
    model = ShardSet

    async def get_with_shards(
        self, delivery_id: uuid.UUID, *, for_update: bool = False
    ) -> ShardSet | None:
        statement = (
            select(ShardSet)
            .where(ShardSet.delivery_id == delivery_id)
            .options(selectinload(ShardSet.shards))
        )
        if for_update:
            statement = statement.with_for_update(of=ShardSet).execution_options(
                populate_existing=True
            )
        return (await self.session.scalars(statement)).one_or_none()

    async def due(self, *, now: datetime, limit: int) -> Sequence[ShardSet]:
        """Sets due to be built, locked; those another builder holds are skipped."""
        statement = (
            select(ShardSet)
            .where(ShardSet.status == ShardSetStatus.BUILDING)
            .where(ShardSet.next_attempt_at <= now)
            .order_by(ShardSet.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return (await self.session.scalars(statement)).all()

    async def add_shards(self, shards: Sequence[Shard]) -> None:
        self.session.add_all(shards)
        await self.session.flush()
