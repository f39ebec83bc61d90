"""Every query of the audit log.

Writes are Core inserts of plain dicts (one executemany per table per batch) and reads
return plain rows: the sequencer moves thousands of entries a second, and ORM objects
per row would cost more than the hashing.
"""

import uuid
from collections.abc import Collection, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import Row, Table, delete, func, insert, select, text, tuple_

from assent.protocol import Node
from services.audit.chain import SubjectKind
from services.audit.models import ChainSubject, LogEntry, PendingEntry, SignedCheckpoint, TreeNode
from services.kit.repository import Repository

# Values bound per statement (a node binds two): well under every backend's limit.
LOOKUP_BATCH = 1_000

T = TypeVar("T")
LoggedRow = Row[int, uuid.UUID, str, datetime, bytes]

# The tables themselves: Core statements, without the ORM's per-row bookkeeping.
PENDING = cast(Table, PendingEntry.__table__)
LOG = cast(Table, LogEntry.__table__)
NODES = cast(Table, TreeNode.__table__)
SUBJECTS = cast(Table, ChainSubject.__table__)


def _chunks(values: Collection[T]) -> Iterator[list[T]]:
    ordered = list(values)
    for start in range(0, len(ordered), LOOKUP_BATCH):
        yield ordered[start : start + LOOKUP_BATCH]


class PendingRepository(Repository[PendingEntry]):
    model = PendingEntry

    async def add(self, rows: Sequence[dict[str, Any]]) -> None:
        await self.session.execute(insert(PENDING), rows)

    async def next_batch(self, limit: int) -> Sequence[Row[Any]]:
        statement = select(*PENDING.columns).order_by(PendingEntry.id).limit(limit)
        return (await self.session.execute(statement)).all()

    async def remove(self, ids: Collection[int]) -> None:
        # By id, never by range: a row with a lower id may commit after a higher one was
        # read, and it must wait for the next batch rather than vanish.
        for chunk in _chunks(ids):
            await self.session.execute(delete(PENDING).where(PendingEntry.id.in_(chunk)))


class LogRepository(Repository[LogEntry]):
    model = LogEntry

    async def take_sequencer_lock(self) -> bool:
        """On PostgreSQL, True when this transaction is the schema's one sequencer; SQLite
        already lets one writer in at a time."""
        if self.session.get_bind().dialect.name != "postgresql":
            return True
        acquired = await self.session.scalar(
            text(
                "SELECT pg_try_advisory_xact_lock("
                "hashtext('assent.audit.sequencer.' || current_schema()))"
            )
        )
        return bool(acquired)

    async def tree_size(self) -> int:
        last = await self.session.scalar(select(func.max(LogEntry.leaf_index)))
        return 0 if last is None else int(last) + 1

    async def nodes(self, wanted: Iterable[Node]) -> dict[Node, bytes]:
        """The stored hashes of perfect subtrees, in as few queries as the batch allows."""
        found: dict[Node, bytes] = {}
        key = tuple_(TreeNode.level, TreeNode.index)
        for chunk in _chunks(set(wanted)):
            rows = await self.session.execute(
                select(TreeNode.level, TreeNode.index, TreeNode.hash).where(key.in_(chunk))
            )
            found.update(((level, index), digest) for level, index, digest in rows)
        return found

    async def append(
        self,
        entries: Sequence[dict[str, Any]],
        nodes: Sequence[dict[str, Any]],
        subjects: Sequence[dict[str, Any]],
    ) -> None:
        for table, rows in (
            (LOG, entries),
            (NODES, nodes),
            (SUBJECTS, subjects),
        ):
            if rows:
                await self.session.execute(insert(table), list(rows))

    async def entries(self, leaves: Collection[int]) -> list[LoggedRow]:
        """Leaf index, event id, topic, time and logged bytes, in log order."""
        found: list[LoggedRow] = []
        for chunk in _chunks(leaves):
            statement = select(
                LogEntry.leaf_index,
                LogEntry.event_id,
                LogEntry.topic,
                LogEntry.occurred_at,
                LogEntry.entry,
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
        for chunk in _chunks(subject_ids):
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
        for chunk in _chunks(leaves):
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
        for chunk in _chunks(subject_ids):
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
        other = SUBJECTS.alias("other")
        statement = (
            select(ChainSubject.leaf_index)
            .join(other, other.c.leaf_index == ChainSubject.leaf_index)
            .where(ChainSubject.kind == first[0].value, ChainSubject.subject_id == first[1])
            .where(other.c.kind == second[0].value, other.c.subject_id == second[1])
            .limit(1)
        )
        return (await self.session.scalar(statement)) is not None


class CheckpointRepository(Repository[SignedCheckpoint]):
    model = SignedCheckpoint

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
