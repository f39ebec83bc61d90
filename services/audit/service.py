"""The audit log: intake, sequencing into the Merkle tree, checkpoints, proofs and chains.

Intake only stores an event as pending, so a request never contends for the tree's
head; the one sequencer (`services.audit.sequencer`) integrates pending entries in
batches and signs checkpoints. Every proof is built from stored perfect subtrees
(`services.kit.merkle`), so its cost depends on the tree's height, not its size.
"""

import base64
import uuid
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NoReturn

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from assent.protocol import (
    Frontier,
    Node,
    Range,
    Signer,
    canonical_json,
    consistency_ranges,
    frontier_nodes,
    inclusion_ranges,
    leaf_hash,
    nodes_for,
    range_hash,
)
from services.audit.chain import (
    WORK_STEPS,
    WORK_TOPICS,
    SubjectKind,
    entry_bytes,
    step_of,
    subjects_of,
)
from services.audit.errors import LogDamaged, NoCheckpoint
from services.audit.models import SignedCheckpoint
from services.audit.repository import CheckpointRepository, LogRepository, PendingRepository
from services.contracts.audit import (
    CHECKPOINT_PAYLOAD_TYPE,
    ChainEntry,
    ChainRead,
    ChainSubjectKind,
    Checkpoint,
    CheckpointProof,
    CheckpointRead,
    ConsistencyProof,
    InclusionProof,
)
from services.contracts.events import EventEnvelope, Topic
from services.contracts.roles import Role
from services.contracts.signing import Envelope
from services.kit.db import utcnow
from services.kit.errors import FieldError, InvalidRequest, NotFound
from services.kit.internal_token import Caller
from storage.keys import checkpoint_key

log = structlog.get_logger()


@dataclass(frozen=True)
class NewEntry:
    """An event on its way into the log."""

    event_id: uuid.UUID
    topic: str
    source: str
    occurred_at: datetime
    entry: bytes
    subjects: Sequence[tuple[str, uuid.UUID]]


@dataclass(frozen=True)
class TreeHead:
    size: int
    root: bytes


@dataclass(frozen=True)
class CheckpointDue:
    """What a pass found: the checkpoint it signed, or when the next one comes due."""

    signed: SignedCheckpoint | None
    due_at: datetime | None


def _sees_every_chain(caller: Caller) -> bool:
    return caller.has(Role.ADMIN, Role.AUDITOR)


def _account(caller: Caller) -> uuid.UUID | None:
    try:
        return uuid.UUID(caller.subject)
    except ValueError:
        return None


async def _stored_nodes(repository: LogRepository, wanted: Collection[Node]) -> dict[Node, bytes]:
    found = await repository.nodes(wanted)
    missing = set(wanted) - found.keys()
    if missing:
        raise LogDamaged(f"the log is missing the tree nodes {sorted(missing)[:5]}")
    return found


def _refuse(caller: Caller, kind: ChainSubjectKind, subject_id: uuid.UUID) -> NoReturn:
    log.warning(
        "audit.chain.refused", caller=caller.subject, subject_kind=kind, subject_id=str(subject_id)
    )
    raise NotFound(f"no such {kind} in the log")


def _out_of_range(field: str, detail: str) -> InvalidRequest:
    return InvalidRequest(detail, fields=[FieldError(field, detail, "out_of_range")])


class LogService:
    async def record(self, session: AsyncSession, envelopes: Sequence[EventEnvelope]) -> None:
        """Called inside the inbox transaction, so a redelivered event is never recorded
        twice. Only stores the entries, in one statement: their places in the log are the
        sequencer's to give."""
        received_at = utcnow()
        await PendingRepository(session).add(
            [
                {
                    "event_id": envelope.id,
                    "topic": envelope.topic.value,
                    "source": envelope.source,
                    "occurred_at": envelope.occurred_at,
                    "entry": entry_bytes(envelope),
                    "subjects": [
                        [kind.value, str(subject)] for kind, subject in subjects_of(envelope)
                    ],
                    "received_at": received_at,
                }
                for envelope in envelopes
            ]
        )

    async def take_sequencer_lock(self, session: AsyncSession) -> bool:
        return await LogRepository(session).take_sequencer_lock()

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
        repository = LogRepository(session)
        size = await repository.tree_size()
        frontier = Frontier.at(size, await _stored_nodes(repository, frontier_nodes(size)))
        when = sequenced_at or utcnow()
        rows: list[dict[str, object]] = []
        nodes: list[dict[str, object]] = []
        subjects: list[dict[str, object]] = []
        for entry in entries:
            index = frontier.size
            rows.append(
                {
                    "leaf_index": index,
                    "event_id": entry.event_id,
                    "topic": entry.topic,
                    "source": entry.source,
                    "occurred_at": entry.occurred_at,
                    "entry": entry.entry,
                    "sequenced_at": when,
                }
            )
            nodes.extend(
                {"level": level, "index": at, "hash": digest}
                for (level, at), digest in frontier.append(leaf_hash(entry.entry))
            )
            subjects.extend(
                {"kind": kind, "subject_id": subject_id, "leaf_index": index}
                for kind, subject_id in entry.subjects
            )
        await repository.append(rows, nodes, subjects)
        return TreeHead(frontier.size, frontier.root())

    async def sequence(self, session: AsyncSession, *, limit: int) -> int:
        """Move up to `limit` pending entries into the log, in arrival order."""
        pending = PendingRepository(session)
        rows = await pending.next_batch(limit)
        if not rows:
            return 0
        await self.integrate(
            session,
            (
                NewEntry(
                    event_id=row.event_id,
                    topic=row.topic,
                    source=row.source,
                    occurred_at=row.occurred_at,
                    entry=row.entry,
                    subjects=[(kind, uuid.UUID(subject)) for kind, subject in row.subjects],
                )
                for row in rows
            ),
        )
        await pending.remove([row.id for row in rows])
        return len(rows)

    async def checkpoint_if_due(
        self, session: AsyncSession, *, signer: Signer, interval: timedelta, now: datetime
    ) -> CheckpointDue:
        """Sign the current tree head, unless it is signed already or the last
        checkpoint is younger than `interval`."""
        checkpoints = CheckpointRepository(session)
        repository = LogRepository(session)
        latest = await checkpoints.latest()
        size = await repository.tree_size()
        signed_size = latest.tree_size if latest is not None else 0
        if size < signed_size:
            # Entries were deleted behind the log's back: never sign the truncated history.
            raise LogDamaged(f"the log holds {size} entries, its last checkpoint {signed_size}")
        if size == signed_size:
            return CheckpointDue(signed=None, due_at=None)
        if latest is not None and now < latest.issued_at + interval:
            return CheckpointDue(signed=None, due_at=latest.issued_at + interval)
        root = Frontier.at(size, await _stored_nodes(repository, frontier_nodes(size))).root()
        checkpoint = Checkpoint(tree_size=size, root_hash=root.hex(), issued_at=now)
        envelope = signer.sign(
            CHECKPOINT_PAYLOAD_TYPE, canonical_json(checkpoint.model_dump(mode="json"))
        )
        signed = await checkpoints.create(
            SignedCheckpoint(
                tree_size=size,
                root_hash=checkpoint.root_hash,
                issued_at=now,
                envelope=envelope.model_dump(mode="json"),
                object_key=checkpoint_key(size),
                published_at=None,
            )
        )
        return CheckpointDue(signed=signed, due_at=None)

    async def unpublished(self, session: AsyncSession, *, limit: int) -> list[SignedCheckpoint]:
        return await CheckpointRepository(session).unpublished(limit)

    async def mark_published(self, session: AsyncSession, tree_size: int) -> None:
        checkpoint = await CheckpointRepository(session).get(tree_size)
        if checkpoint is not None:
            checkpoint.published_at = utcnow()
            await session.flush()


def published_object(checkpoint: SignedCheckpoint) -> bytes:
    """What is written to the object store: the signed checkpoint (DSSE envelope)."""
    return canonical_json(checkpoint.envelope)


class ProofService:
    async def checkpoint(
        self,
        session: AsyncSession,
        *,
        tree_size: int | None = None,
        consistent_with: int | None = None,
    ) -> CheckpointProof:
        """The latest checkpoint, or that of `tree_size`, with an optional consistency
        proof from the size a reader saw earlier."""
        checkpoint = await self.signed_checkpoint(session, tree_size)
        consistency = await self.consistency_with(session, checkpoint, consistent_with)
        return CheckpointProof(checkpoint=checkpoint_read(checkpoint), consistency=consistency)

    async def inclusion(
        self, session: AsyncSession, *, leaf_index: int, tree_size: int | None = None
    ) -> InclusionProof:
        size = await self._provable_size(session, tree_size, field="tree_size", low=1)
        if not 0 <= leaf_index < size:
            raise _out_of_range(
                "leaf_index", f"leaf_index must be between 0 and {size - 1} in a tree of {size}"
            )
        proofs = await self.inclusion_proofs(session, [leaf_index], size)
        return InclusionProof(leaf_index=leaf_index, tree_size=size, hashes=proofs[leaf_index])

    async def consistency(
        self, session: AsyncSession, *, from_size: int, to_size: int | None = None
    ) -> ConsistencyProof:
        size = await self._provable_size(session, to_size, field="to_size", low=0)
        if not 0 <= from_size <= size:
            raise _out_of_range("from_size", f"from_size must be between 0 and {size}")
        return await self._consistency(session, from_size, size)

    async def inclusion_proofs(
        self, session: AsyncSession, leaves: Collection[int], tree_size: int
    ) -> dict[int, list[str]]:
        """Inclusion proofs of many leaves against one size, from one batch of node reads."""
        paths = {leaf: inclusion_ranges(leaf, tree_size) for leaf in leaves}
        nodes = await self._nodes(session, (part for path in paths.values() for part in path))
        return {
            leaf: [range_hash(start, end, nodes).hex() for start, end in path]
            for leaf, path in paths.items()
        }

    async def _nodes(self, session: AsyncSession, ranges: Iterable[Range]) -> dict[Node, bytes]:
        return await _stored_nodes(LogRepository(session), nodes_for(ranges))

    async def _consistency(
        self, session: AsyncSession, from_size: int, to_size: int
    ) -> ConsistencyProof:
        ranges = consistency_ranges(from_size, to_size)
        nodes = await self._nodes(session, ranges)
        return ConsistencyProof(
            from_size=from_size,
            to_size=to_size,
            hashes=[range_hash(start, end, nodes).hex() for start, end in ranges],
        )

    async def consistency_with(
        self, session: AsyncSession, checkpoint: SignedCheckpoint, from_size: int | None
    ) -> ConsistencyProof | None:
        if from_size is None:
            return None
        if not 0 <= from_size <= checkpoint.tree_size:
            raise _out_of_range(
                "consistent_with",
                f"consistent_with must be between 0 and the checkpoint's tree size "
                f"{checkpoint.tree_size}",
            )
        return await self._consistency(session, from_size, checkpoint.tree_size)

    async def _latest(self, session: AsyncSession) -> SignedCheckpoint:
        latest = await CheckpointRepository(session).latest()
        if latest is None:
            raise NoCheckpoint("the log has signed no checkpoint yet")
        return latest

    async def _provable_size(
        self, session: AsyncSession, size: int | None, *, field: str, low: int
    ) -> int:
        """`size`, or the latest checkpoint's: proofs reach no further than a signed root."""
        latest = (await self._latest(session)).tree_size
        if size is None:
            return latest
        if not low <= size <= latest:
            raise _out_of_range(
                field, f"{field} must be between {low} and the latest checkpoint's size {latest}"
            )
        return size

    async def signed_checkpoint(
        self, session: AsyncSession, tree_size: int | None
    ) -> SignedCheckpoint:
        latest = await self._latest(session)
        if tree_size is None or tree_size == latest.tree_size:
            return latest
        # Checked against the latest first, so an absurd size never reaches the database.
        if not 1 <= tree_size <= latest.tree_size:
            raise _out_of_range(
                "tree_size",
                f"tree_size must name a checkpoint; the latest is of size {latest.tree_size}",
            )
        found = await CheckpointRepository(session).get(tree_size)
        if found is None:
            raise _out_of_range("tree_size", f"no checkpoint was signed at tree size {tree_size}")
        return found


def checkpoint_read(checkpoint: SignedCheckpoint) -> CheckpointRead:
    envelope = Envelope.model_validate(checkpoint.envelope)
    # The statement as signed, rather than the columns beside it.
    signed = Checkpoint.model_validate_json(base64.b64decode(envelope.payload))
    return CheckpointRead(checkpoint=signed, envelope=envelope, object_key=checkpoint.object_key)


class ChainService:
    """Licence chains, each proven against one checkpoint.

    Who may read a chain is decided from the log's own evidence: the consent entries
    name a work's creator, a licence's grant names its buyer. A chain the caller may
    not read is not found, never forbidden, as for another buyer's licence elsewhere.
    """

    async def work_chain(
        self,
        session: AsyncSession,
        caller: Caller,
        work_id: uuid.UUID,
        *,
        tree_size: int | None = None,
        consistent_with: int | None = None,
    ) -> ChainRead:
        """The work's consent, offers and withdrawal, every licence of it with its
        payment, delivery and refund, and the downloads of this work."""
        repository = LogRepository(session)
        about_work = await repository.leaves_of(SubjectKind.WORK, [work_id])
        if not about_work:
            raise NotFound("no such work in the log")
        grants = [leaf for leaf, topic in about_work.items() if topic == Topic.LICENCE_GRANTED]
        named = await repository.subjects_on(grants, (SubjectKind.LICENCE, SubjectKind.BUYER))
        licence_of = {leaf: who for leaf, kind, who in named if kind == SubjectKind.LICENCE}
        buyers: dict[uuid.UUID, set[uuid.UUID]] = {
            licence: set() for licence in licence_of.values()
        }
        for leaf, kind, who in named:
            if kind == SubjectKind.BUYER and leaf in licence_of:
                buyers[licence_of[leaf]].add(who)

        me = _account(caller)
        every = _sees_every_chain(caller)
        creator = (
            not every
            and me is not None
            and await repository.about_both((SubjectKind.WORK, work_id), (SubjectKind.CREATOR, me))
        )
        bought = {licence for licence, named in buyers.items() if me in named}
        if not (every or creator or bought):
            _refuse(caller, ChainSubjectKind.WORK, work_id)
        # The work's own steps, which every reader of its chain sees.
        leaves = {leaf for leaf, topic in about_work.items() if step_of(topic) in WORK_STEPS}
        shown = set(leaves)
        licences = set(buyers) if every or creator else bought
        for licence, about_licence in (
            await repository.leaves_by_subject(SubjectKind.LICENCE, licences)
        ).items():
            for leaf, topic in about_licence.items():
                # A licence of several works: its downloads of the others are their chains'.
                if topic != Topic.FILE_DOWNLOADED or leaf in about_work:
                    leaves.add(leaf)
                    if every or licence in bought:
                        shown.add(leaf)
        return await self._proven(
            session,
            ChainSubjectKind.WORK,
            work_id,
            leaves,
            withheld=leaves - shown,
            tree_size=tree_size,
            consistent_with=consistent_with,
        )

    async def licence_chain(
        self,
        session: AsyncSession,
        caller: Caller,
        licence_id: uuid.UUID,
        *,
        tree_size: int | None = None,
        consistent_with: int | None = None,
    ) -> ChainRead:
        """The licence's grant, payment, deliveries, downloads and refund, and the
        consent, offers and withdrawal of each of its works."""
        repository = LogRepository(session)
        about_licence = await repository.leaves_of(SubjectKind.LICENCE, [licence_id])
        if not about_licence:
            raise NotFound("no such licence in the log")
        grants = [leaf for leaf, topic in about_licence.items() if topic == Topic.LICENCE_GRANTED]
        named = await repository.subjects_on(grants, (SubjectKind.WORK, SubjectKind.BUYER))
        if not _sees_every_chain(caller):
            me = _account(caller)
            if not any(kind == SubjectKind.BUYER and who == me for _, kind, who in named):
                _refuse(caller, ChainSubjectKind.LICENCE, licence_id)
        works = {subject_id for _, kind, subject_id in named if kind == SubjectKind.WORK}
        leaves = set(about_licence)
        leaves.update(await repository.leaves_of(SubjectKind.WORK, works, topics=WORK_TOPICS))
        return await self._proven(
            session,
            ChainSubjectKind.LICENCE,
            licence_id,
            leaves,
            tree_size=tree_size,
            consistent_with=consistent_with,
        )

    async def _proven(
        self,
        session: AsyncSession,
        kind: ChainSubjectKind,
        subject_id: uuid.UUID,
        leaves: Collection[int],
        *,
        withheld: Collection[int] = (),
        tree_size: int | None,
        consistent_with: int | None,
    ) -> ChainRead:
        """The entries proven against one checkpoint; those in `withheld` are another
        party's, shown by their leaf hash only, which their proofs still prove."""
        checkpoint = await proof_service.signed_checkpoint(session, tree_size)
        consistency = await proof_service.consistency_with(session, checkpoint, consistent_with)
        size = checkpoint.tree_size
        proven = [leaf for leaf in leaves if leaf < size]
        proofs = await proof_service.inclusion_proofs(session, proven, size)
        rows = await LogRepository(session).entries(proven)
        return ChainRead(
            subject_kind=kind,
            subject_id=subject_id,
            checkpoint=checkpoint_read(checkpoint),
            entries=[
                ChainEntry(
                    index=row.leaf_index,
                    event_id=row.event_id,
                    topic=row.topic,
                    step=step_of(row.topic),
                    occurred_at=row.occurred_at,
                    # A byte edited into invalid UTF-8 must still reach the verifier.
                    entry=None
                    if row.leaf_index in withheld
                    else row.entry.decode(errors="replace"),
                    leaf_hash=leaf_hash(row.entry).hex() if row.leaf_index in withheld else None,
                    inclusion_proof=proofs[row.leaf_index],
                )
                for row in rows
            ],
            consistency=consistency,
            pending_entries=len(leaves) - len(proven),
        )


log_service = LogService()
proof_service = ProofService()
chain_service = ChainService()
