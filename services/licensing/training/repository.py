"""Receipt keys', runs' and their records' queries."""

import uuid
from collections.abc import Collection, Sequence
from typing import cast

from sqlalchemy import Table, insert, select, tuple_

from services.kit.repository import Repository
from services.licensing.models import LicenceLine
from services.licensing.training.models import TrainingKey, TrainingRecord, TrainingRun

Line = tuple[uuid.UUID, uuid.UUID]
"""A licence line by (licence id, work id)."""
Model = tuple[str, str]
"""A model by (name, version)."""


class TrainingKeyRepository(Repository[TrainingKey]):
    model = TrainingKey

    async def of_buyer(self, buyer_id: uuid.UUID) -> Sequence[TrainingKey]:
        statement = (
            select(TrainingKey)
            .where(TrainingKey.buyer_id == buyer_id)
            .order_by(TrainingKey.created_at, TrainingKey.key_id)
        )
        return (await self.session.scalars(statement)).all()


class TrainingRunRepository(Repository[TrainingRun]):
    model = TrainingRun

    async def models_by_line(self, lines: Collection[Line]) -> dict[Line, set[Model]]:
        """The distinct models each line already went into."""
        if not lines:
            return {}
        record = TrainingRecord
        statement = (
            select(record.licence_id, record.work_id, record.model_name, record.model_version)
            .where(tuple_(record.licence_id, record.work_id).in_(list(lines)))
            .distinct()
        )
        found: dict[Line, set[Model]] = {}
        for licence_id, work_id, name, version in await self.session.execute(statement):
            found.setdefault((licence_id, work_id), set()).add((name, version))
        return found

    async def add_records(self, run: TrainingRun, lines: Sequence[Line]) -> None:
        # One INSERT of many rows: a run may name a hundred thousand records.
        await self.session.execute(
            insert(cast(Table, TrainingRecord.__table__)),
            [
                {
                    "run_id": run.id,
                    "licence_id": licence_id,
                    "work_id": work_id,
                    "model_name": run.model_name,
                    "model_version": run.model_version,
                }
                for licence_id, work_id in lines
            ],
        )

    async def of_buyer(
        self, buyer_id: uuid.UUID | None, *, model_name: str | None, limit: int
    ) -> Sequence[TrainingRun]:
        """Runs newest first: one lab's (or every lab's, for `None`), of one model or all."""
        statement = select(TrainingRun).order_by(TrainingRun.recorded_at.desc(), TrainingRun.id)
        if buyer_id is not None:
            statement = statement.where(TrainingRun.buyer_id == buyer_id)
        if model_name is not None:
            statement = statement.where(TrainingRun.model_name == model_name)
        return (await self.session.scalars(statement.limit(limit))).all()

    async def on_works(
        self, work_ids: Collection[uuid.UUID]
    ) -> Sequence[tuple[uuid.UUID, TrainingRun]]:
        """Each run that used one of the works, with the work: newest first."""
        statement = (
            select(TrainingRecord.work_id, TrainingRun)
            .join(TrainingRun, TrainingRun.id == TrainingRecord.run_id)
            .where(TrainingRecord.work_id.in_(list(work_ids)))
            .order_by(TrainingRun.recorded_at.desc(), TrainingRun.id)
        )
        return [(work_id, run) for work_id, run in await self.session.execute(statement)]

    async def creators_of(self, work_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, set[str]]:
        """Each work's creators, as its licence lines' royalty shares name them."""
        statement = select(LicenceLine.work_id, LicenceLine.shares).where(
            LicenceLine.work_id.in_(list(work_ids))
        )
        creators: dict[uuid.UUID, set[str]] = {}
        for work_id, shares in await self.session.execute(statement):
            creators.setdefault(work_id, set()).update(str(s["creator_id"]) for s in shares)
        return creators
