"""The log itself: intake of events as pending entries, and their integration into the
Merkle tree.

Intake only stores an event as pending, so a request never contends for the tree's
head; the one sequencer (`services.audit.sequencer`) integrates pending entries in
batches. Each leaf stores the perfect subtrees it completes, so a root or a proof reads
a handful of nodes whatever the log's size (`assent.protocol`).

Every leaf sequenced here is a linked entry (the marker that migration 0003 appended
comes before them): the sequencer keeps each linked subject's latest entry in
`subject_head`, reads a batch's heads in one query and writes the changed ones in one.
"""

import hashlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from assent.protocol import (
    LINKED_KINDS,
    Frontier,
    Node,
    frontier_nodes,
    leaf_hash,
    linked_leaf_bytes,
)
from services.audit.chain.subjects import entry_bytes, subjects_of
from services.audit.log.heads import Head, HeadKey, HeadRepository
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
        subjects = [_linked(entry) for entry in appended]
        repository = HeadRepository(session)
        heads = await repository.current(
            {(kind, subject) for keys in subjects for kind, subject, _ in keys}
        )
        changed: dict[HeadKey, Head] = {}
        nodes: list[tuple[Node, bytes]] = []
        links: list[list[dict[str, object]]] = []
        for index, (entry, keys) in enumerate(zip(appended, subjects, strict=True), first_index):
            named = [
                (kind, shown, *_previous(heads.get((kind, subject))))
                for kind, subject, shown in keys
            ]
            digest = hashlib.sha256(entry.entry).hexdigest()
            leaf = leaf_hash(linked_leaf_bytes(digest, named))
            for kind, subject, _ in keys:
                heads[(kind, subject)] = changed[(kind, subject)] = (index, leaf)
            nodes.extend(frontier.append(leaf))
            links.append(
                [
                    {
                        "kind": kind,
                        "id": shown,
                        "previous": None if at is None else {"index": at, "leaf_hash": hashed},
                    }
                    for kind, shown, at, hashed in named
                ]
            )
        await LogRepository(session).append(
            first_index, appended, nodes, sequenced_at=sequenced_at or utcnow(), links=links
        )
        await repository.advance(changed)
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


def _linked(entry: NewEntry) -> list[tuple[str, uuid.UUID, str]]:
    """The entry's linked subjects (kind, id, id as text), once each, in the order its
    links list them; the text is made once, as the links and their sorting need it."""
    keys = {(kind, subject) for kind, subject in entry.subjects if kind in LINKED_KINDS}
    return sorted(((kind, subject, str(subject)) for kind, subject in keys), key=_by_text)


def _by_text(key: tuple[str, uuid.UUID, str]) -> tuple[str, str]:
    return key[0], key[2]


def _previous(head: Head | None) -> tuple[int | None, str]:
    return (None, "") if head is None else (head[0], head[1].hex())


log_service = LogService()
