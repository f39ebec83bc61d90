"""The notes, cosignatures and witness views, and the latest published checkpoint."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import exists, func, select

from services.audit.models import SignedCheckpoint
from services.audit.witnessing.models import CheckpointNote, NoteCosignature, WitnessView
from services.kit.db import dialect_insert
from services.kit.repository import Repository


class NoteRepository(Repository[CheckpointNote]):
    model = CheckpointNote

    async def newest(self) -> CheckpointNote | None:
        statement = select(CheckpointNote).order_by(CheckpointNote.tree_size.desc()).limit(1)
        return (await self.session.scalars(statement)).one_or_none()

    async def latest_published(self) -> SignedCheckpoint | None:
        """The largest checkpoint whose note, if it has one, reached its quorum. A
        checkpoint signed before notes existed has none, and stays published."""
        waiting = exists().where(
            CheckpointNote.tree_size == SignedCheckpoint.tree_size,
            CheckpointNote.witnessed_at.is_(None),
        )
        statement = (
            select(SignedCheckpoint)
            .where(~waiting)
            .order_by(SignedCheckpoint.tree_size.desc())
            .limit(1)
        )
        return (await self.session.scalars(statement)).one_or_none()

    async def cosignatures(self, tree_size: int) -> list[NoteCosignature]:
        statement = (
            select(NoteCosignature)
            .where(NoteCosignature.tree_size == tree_size)
            .order_by(NoteCosignature.witness)
        )
        return list((await self.session.scalars(statement)).all())

    async def count_cosignatures(self, tree_size: int, witnesses: Sequence[str]) -> int:
        statement = select(func.count()).where(
            NoteCosignature.tree_size == tree_size, NoteCosignature.witness.in_(witnesses)
        )
        return int(await self.session.scalar(statement) or 0)

    async def add_cosignature(self, cosignature: NoteCosignature) -> None:
        # A witness asked twice (two replicas, a retry) cosigns twice: the first is kept.
        if (
            await self.session.get(NoteCosignature, (cosignature.tree_size, cosignature.witness))
            is None
        ):
            self.session.add(cosignature)
            await self.session.flush()

    async def views(self) -> dict[str, int]:
        rows = await self.session.execute(select(WitnessView.witness, WitnessView.tree_size))
        return {witness: size for witness, size in rows}

    async def set_view(self, witness: str, tree_size: int, *, at: datetime) -> None:
        """What the witness said it holds, the latest answer winning."""
        values = {"witness": witness, "tree_size": tree_size, "updated_at": at}
        statement = dialect_insert(self.session)(WitnessView).values(values)
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[WitnessView.witness],
                set_={"tree_size": tree_size, "updated_at": at},
            )
        )
