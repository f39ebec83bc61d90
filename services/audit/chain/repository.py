"""The chains' queries: which entries are about which subjects, and the logged entries."""

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select

from services.audit.chain.subjects import SubjectKind
from services.audit.log.repository import in_chunks
from services.audit.models import ChainSubject, LogEntry, table_of
from services.kit.repository import Repository

LoggedRow = Row[int, uuid.UUID, str, datetime, bytes, list[dict[str, Any]] | None]


class ChainRepository(Repository[ChainSubject]):
    model = ChainSubject

    async def entries(self, leaves: Collection[int]) -> list[LoggedRow]:
        """Leaf index, event id, topic, time, logged bytes and links, in log order."""
        found: list[LoggedRow] = []
        for chunk in in_chunks(leaves):
            statement = select(
                LogEntry.leaf_index,
                LogEntry.event_id,
                LogEntry.topic,
                LogEntry.occurred_at,
                LogEntry.entry,
                LogEntry.links,
            ).where(LogEntry.leaf_index.in_(chunk))
            found.extend((await self.session.execute(statement)).all())
        found.sort(key=lambda row: int(row.leaf_index))
        return found

    async def leaves_of(
        self,
        kind: SubjectKind,
        subject_ids: Collection[uuid.UUID],
        *,
        topics: Sequence[str] | None = None,
    ) -> dict[int, str]:
        """The entries about any of the subjects, as leaf index -> topic."""
        found: dict[int, str] = {}
        for chunk in in_chunks(subject_ids):
            statement = (
                select(ChainSubject.leaf_index, LogEntry.topic)
                .join(LogEntry, LogEntry.leaf_index == ChainSubject.leaf_index)
                .where(ChainSubject.kind == kind.value)
                .where(ChainSubject.subject_id.in_(chunk))
            )
            if topics is not None:
                statement = statement.where(LogEntry.topic.in_(topics))
            found.update(
                (int(leaf), topic) for leaf, topic in await self.session.execute(statement)
            )
        return found

    async def subjects_on(
        self, leaves: Collection[int], kinds: Collection[SubjectKind]
    ) -> list[tuple[int, SubjectKind, uuid.UUID]]:
        """The subjects of the given kinds that the given entries are about."""
        found: list[tuple[int, SubjectKind, uuid.UUID]] = []
        for chunk in in_chunks(leaves):
            statement = (
                select(ChainSubject.leaf_index, ChainSubject.kind, ChainSubject.subject_id)
                .where(ChainSubject.leaf_index.in_(chunk))
                .where(ChainSubject.kind.in_([kind.value for kind in kinds]))
            )
            found.extend(
                (int(leaf), SubjectKind(kind), subject_id)
                for leaf, kind, subject_id in await self.session.execute(statement)
            )
        return found

    async def leaves_by_subject(
        self, kind: SubjectKind, subject_ids: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, dict[int, str]]:
        """`leaves_of`, for each subject apart: subject -> leaf index -> topic."""
        found: dict[uuid.UUID, dict[int, str]] = {subject: {} for subject in subject_ids}
        for chunk in in_chunks(subject_ids):
            statement = (
                select(ChainSubject.subject_id, ChainSubject.leaf_index, LogEntry.topic)
                .join(LogEntry, LogEntry.leaf_index == ChainSubject.leaf_index)
                .where(ChainSubject.kind == kind.value)
                .where(ChainSubject.subject_id.in_(chunk))
            )
            for subject, leaf, topic in await self.session.execute(statement):
                found[subject][int(leaf)] = topic
        return found

    async def about_both(
        self, first: tuple[SubjectKind, uuid.UUID], second: tuple[SubjectKind, uuid.UUID]
    ) -> bool:
        """Whether one entry of the log is about both subjects (a consent given by a
        creator for a work)."""
        other = table_of(ChainSubject).alias("other")
        statement = (
            select(ChainSubject.leaf_index)
            .join(other, other.c.leaf_index == ChainSubject.leaf_index)
            .where(ChainSubject.kind == first[0].value, ChainSubject.subject_id == first[1])
            .where(other.c.kind == second[0].value, other.c.subject_id == second[1])
            .limit(1)
        )
        return (await self.session.scalar(statement)) is not None
