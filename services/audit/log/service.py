"""The log itself: intake of events as pending entries, and their integration into the
Merkle tree.

Intake only stores an event as pending, so a request never contends for the tree's
head; the one sequencer (`services.audit.sequencer`) integrates pending entries in
batches. Each leaf stores the perfect subtrees it completes, so a root or a proof reads
a handful of nodes whatever the log's size (`assent.protocol`).

Every leaf sequenced here is a linked entry (the marker that migration 0003 appended
comes before them), but for the heads leaves a checkpoint appends (`append_heads`): the
sequencer keeps each linked subject's latest entry in `subject_head`, reads a batch's
heads in one query (those of subjects it has not seen lately: `HeadCache`) and writes the
changed ones in one.
"""

import hashlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from assent.protocol import (
    HEADS_TOPIC,
    LINKED_KINDS,
    Frontier,
    Node,
    frontier_nodes,
    heads_event_id,
    heads_leaf_bytes,
    leaf_hash,
    linked_leaf_bytes,
)
from services.audit.chain.subjects import entry_bytes, subjects_of
from services.audit.log.cache import HeadCache
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
        cache: HeadCache | None = None,
    ) -> TreeHead:
        """Append entries at the end of the log, in the order given; the new tree head.

        Only the sequencer (holding its lock) may call this, or a benchmark seeding a
        log: two callers side by side would both read the same tree size. `cache` is
        the sequencer's memory of recent heads, checked here against the tree head.
        """
        frontier = await self.frontier(session)
        first_index = frontier.size
        appended = list(entries)
        subjects = [_linked(entry) for entry in appended]
        repository = HeadRepository(session)
        wanted = {(kind, subject) for keys in subjects for kind, subject, _ in keys}
        before = (frontier.size, frontier.root()) if cache is not None else None
        if cache is not None and before is not None:
            heads, missing = cache.known(wanted, tree=before)
            read = await repository.current(missing) if missing else {}
            heads.update(read)
        else:
            heads = read = await repository.current(wanted)
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
        after = TreeHead(frontier.size, frontier.root())
        if cache is not None and before is not None:
            cache.advance(before=before, after=(after.size, after.root), seen=read, changed=changed)
        return after

    async def append_heads(
        self,
        session: AsyncSession,
        map_root: bytes,
        *,
        links_begin_at: int,
        cache: HeadCache | None = None,
    ) -> TreeHead:
        """Append the heads leaf naming `map_root`, the head map as of every leaf before
        it (`assent.protocol.heads_leaf_bytes`); the new tree head. It is no subject's
        entry, so no head moves. Only the sequencer, holding its lock, calls this."""
        frontier = await self.frontier(session)
        before = (frontier.size, frontier.root())
        index = frontier.size
        entry = heads_leaf_bytes(map_root, links_begin_at=links_begin_at, tree_size=index)
        now = utcnow()
        heads = NewEntry(
            event_id=heads_event_id(index),
            topic=HEADS_TOPIC,
            source="audit",
            occurred_at=now,
            entry=entry,
            subjects=[],
        )
        nodes = frontier.append(leaf_hash(entry))
        await LogRepository(session).append(index, [heads], nodes, sequenced_at=now, links=[None])
        after = TreeHead(frontier.size, frontier.root())
        if cache is not None:
            cache.advance(before=before, after=(after.size, after.root))
        return after

    async def sequence(
        self, session: AsyncSession, *, limit: int, cache: HeadCache | None = None
    ) -> int:
        """Move up to `limit` pending entries into the log, in arrival order."""
        pending = PendingRepository(session)
        batch = await pending.next_batch(limit)
        if not batch:
            return 0
        await self.integrate(session, (waiting.entry for waiting in batch), cache=cache)
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
