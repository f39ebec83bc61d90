"""The log itself: intake of events as pending entries, and their integration into the
Merkle tree.

Intake only stores an event as pending, so a request never contends for the tree's
head; the one sequencer (`services.audit.sequencer`) integrates pending entries in
batches. Each leaf stores the perfect subtrees it completes, so a root or a proof reads
a handful of nodes whatever the log's size (`assent.protocol`).
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from assent.protocol import Frontier, Node, frontier_nodes, leaf_hash
from services.audit.chain.subjects import entry_bytes, subjects_of
from services.audit.log.repository import LogRepository, NewEntry, PendingRepository
from services.contracts.events import EventEnvelope
from services.kit.db import utcnow


@dataclass(frozen=True)
class TreeHead:
    size: int
    root: bytes


class LogService:
    async def record(self, session: AsyncSession, envelopes: Sequence[EventEnvelope]) -> None:
        """Called inside the inbox transaction, so a redelivered event is never recorded
        twice. Only stores the entries, in one statement: their places in the log are the
        sequencer's to give."""
        await PendingRepository(session).add(
            [
                NewEntry(
                    event_id=envelope.id,
                    topic=envelope.topic.value,
                    source=envelope.source,
                    occurred_at=envelope.occurred_at,
                    entry=entry_bytes(envelope),
                    subjects=subjects_of(envelope),
                )
                for envelope in envelopes
            ],
            received_at=utcnow(),
        )

    async def take_sequencer_lock(self, session: AsyncSession) -> bool:
        return await LogRepository(session).take_sequencer_lock()

    async def frontier(self, session: AsyncSession) -> Frontier:
        """The tree as it stands: its size and the perfect subtrees its root is over."""
        repository = LogRepository(session)
        size = await repository.tree_size()
        return Frontier.at(size, await repository.stored_nodes(frontier_nodes(size)))

    async def integrate(
        self,
        session: AsyncSession,
        entries: Iterable[NewEntry],
        *,
        sequenced_at: datetime | None = None,
    ) -> TreeHead:
        """Append entries at the end of the log, in the order given; the new tree head.

        Only the sequencer (holding its lock) may call this, or a benchmark seeding a
        log: two callers side by side would both read the same tree size.
        """
        frontier = await self.frontier(session)
        first_index = frontier.size
        appended = list(entries)
        nodes: list[tuple[Node, bytes]] = []
        for entry in appended:
            nodes.extend(frontier.append(leaf_hash(entry.entry)))
        await LogRepository(session).append(
            first_index, appended, nodes, sequenced_at=sequenced_at or utcnow()
        )
        return TreeHead(frontier.size, frontier.root())

    async def sequence(self, session: AsyncSession, *, limit: int) -> int:
        """Move up to `limit` pending entries into the log, in arrival order."""
        pending = PendingRepository(session)
        batch = await pending.next_batch(limit)
        if not batch:
            return 0
        await self.integrate(session, (waiting.entry for waiting in batch))
        await pending.remove(batch)
        return len(batch)


log_service = LogService()
