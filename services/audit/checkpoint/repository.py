"""The signed checkpoints, each kept under its tree size."""

from datetime import datetime

from sqlalchemy import select

from services.audit.models import SignedCheckpoint
from services.contracts.audit import Checkpoint
from services.contracts.signing import Envelope
from services.kit.repository import Repository
from storage.keys import checkpoint_key


class CheckpointRepository(Repository[SignedCheckpoint]):
    model = SignedCheckpoint

    async def add(self, checkpoint: Checkpoint, envelope: Envelope) -> SignedCheckpoint:
        """The checkpoint as signed, waiting to be published under its object key."""
        return await self.create(
            SignedCheckpoint(
                tree_size=checkpoint.tree_size,
                root_hash=checkpoint.root_hash,
                issued_at=checkpoint.issued_at,
                envelope=envelope.model_dump(mode="json"),
                object_key=checkpoint_key(checkpoint.tree_size),
                published_at=None,
            )
        )

    async def latest(self) -> SignedCheckpoint | None:
        statement = select(SignedCheckpoint).order_by(SignedCheckpoint.tree_size.desc()).limit(1)
        return (await self.session.scalars(statement)).one_or_none()

    async def unpublished(self, limit: int) -> list[SignedCheckpoint]:
        return await self.list(
            select(SignedCheckpoint)
            .where(SignedCheckpoint.published_at.is_(None))
            .order_by(SignedCheckpoint.tree_size)
            .limit(limit)
        )

    async def mark_published(self, tree_size: int, *, at: datetime) -> None:
        checkpoint = await self.get(tree_size)
        if checkpoint is not None:
            checkpoint.published_at = at
            await self.session.flush()
