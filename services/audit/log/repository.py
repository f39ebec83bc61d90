"""The log's own queries: pending entries, leaves and the tree's stored nodes.

Repositories take typed entries and write them as Core inserts of rows (one executemany
per table per batch), and read plain rows: the sequencer moves thousands of entries a
second, and ORM objects per row would cost more than the hashing.
"""

import uuid
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import delete, func, insert, select, text, tuple_

from assent.protocol import MARKER_EVENT_ID, Node
from services.audit.errors import LogDamaged
from services.audit.models import ChainSubject, LogEntry, PendingEntry, TreeNode, table_of
from services.kit.repository import Repository

# Values bound per statement (a node binds two): well under every backend's limit.
LOOKUP_BATCH = 1_000

T = TypeVar("T")


def in_chunks(values: Collection[T]) -> Iterator[list[T]]:
    """The values in lists short enough to bind in one statement."""
    ordered = list(values)
    for start in range(0, len(ordered), LOOKUP_BATCH):
        yield ordered[start : start + LOOKUP_BATCH]


@dataclass(frozen=True)
class NewEntry:
    """An event on its way into the log, with the chains it belongs to."""

    event_id: uuid.UUID
    topic: str
    source: str
    occurred_at: datetime
    entry: bytes
    subjects: Sequence[tuple[str, uuid.UUID]]


@dataclass(frozen=True)
class Pending:
    """An entry received and waiting for its place in the log."""

    id: int
    entry: NewEntry


class PendingRepository(Repository[PendingEntry]):
    model = PendingEntry

    async def add(self, entries: Sequence[NewEntry], *, received_at: datetime) -> None:
        await self.session.execute(
            insert(table_of(PendingEntry)),
            [
                {
                    "event_id": entry.event_id,
                    "topic": entry.topic,
                    "source": entry.source,
                    "occurred_at": entry.occurred_at,
                    "entry": entry.entry,
                    "subjects": [[kind, str(subject)] for kind, subject in entry.subjects],
                    "received_at": received_at,
                }
                for entry in entries
            ],
        )

    async def next_batch(self, limit: int) -> list[Pending]:
        """Up to `limit` pending entries, in arrival order."""
        statement = select(*table_of(PendingEntry).columns).order_by(PendingEntry.id).limit(limit)
        return [
            Pending(
                id=row.id,
                entry=NewEntry(
                    event_id=row.event_id,
                    topic=row.topic,
                    source=row.source,
                    occurred_at=row.occurred_at,
                    entry=row.entry,
                    subjects=[(kind, uuid.UUID(subject)) for kind, subject in row.subjects],
                ),
            )
            for row in await self.session.execute(statement)
        ]

    async def remove(self, pending: Collection[Pending]) -> None:
        # By id, never by range: a row with a lower id may commit after a higher one was
        # read, and it must wait for the next batch rather than vanish.
        for chunk in in_chunks([waiting.id for waiting in pending]):
            await self.session.execute(delete(PendingEntry).where(PendingEntry.id.in_(chunk)))


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

    async def links_begin_at(self) -> int | None:
        """The marker entry's log index (None only before migration 0003 ran)."""
        found = await self.session.scalar(
            select(LogEntry.leaf_index).where(LogEntry.event_id == MARKER_EVENT_ID)
        )
        return None if found is None else int(found)

    async def topic_at(self, index: int) -> str | None:
        """The topic of the leaf at `index` (None: no such leaf)."""
        return await self.session.scalar(select(LogEntry.topic).where(LogEntry.leaf_index == index))

    async def nodes(self, wanted: Iterable[Node]) -> dict[Node, bytes]:
        """The stored hashes of perfect subtrees, in as few queries as the batch allows."""
        found: dict[Node, bytes] = {}
        key = tuple_(TreeNode.level, TreeNode.index)
        for chunk in in_chunks(set(wanted)):
            rows = await self.session.execute(
                select(TreeNode.level, TreeNode.index, TreeNode.hash).where(key.in_(chunk))
            )
            found.update(((level, index), digest) for level, index, digest in rows)
        return found

    async def stored_nodes(self, wanted: Collection[Node]) -> dict[Node, bytes]:
        """`nodes`, every one of them: a proof or a root needs them all."""
        found = await self.nodes(wanted)
        missing = set(wanted) - found.keys()
        if missing:
            raise LogDamaged(f"the log is missing the tree nodes {sorted(missing)[:5]}")
        return found

    async def append(
        self,
        first_index: int,
        entries: Sequence[NewEntry],
        nodes: Sequence[tuple[Node, bytes]],
        *,
        sequenced_at: datetime,
        links: Sequence[list[dict[str, object]] | None],
    ) -> None:
        """The entries as leaves from `first_index` on (with each one's links), the
        perfect subtrees they complete, and the chains each belongs to."""
        leaves = list(enumerate(entries, start=first_index))
        for table, rows in (
            (
                table_of(LogEntry),
                [
                    {
                        "leaf_index": index,
                        "event_id": entry.event_id,
                        "topic": entry.topic,
                        "source": entry.source,
                        "occurred_at": entry.occurred_at,
                        "entry": entry.entry,
                        "sequenced_at": sequenced_at,
                        "links": linked,
                    }
                    for (index, entry), linked in zip(leaves, links, strict=True)
                ],
            ),
            (
                table_of(TreeNode),
                [{"level": level, "index": at, "hash": digest} for (level, at), digest in nodes],
            ),
            (
                table_of(ChainSubject),
                [
                    {"kind": kind, "subject_id": subject_id, "leaf_index": index}
                    for index, entry in leaves
                    for kind, subject_id in entry.subjects
                ],
            ),
        ):
            if rows:
                await self.session.execute(insert(table), rows)
