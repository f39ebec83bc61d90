"""Signed checkpoints of the log, their publication, and the proofs read against them.

Once links have begun, a checkpoint's last leaf is its heads leaf: when a checkpoint is
due, the head map as of the tree is appended as a leaf (`assent.protocol.heads_leaf_bytes`)
and the checkpoint signed is of the tree that ends with it, so the witnesses, who cosign
the tree's size and root, cosign the map too. A checkpoint signed before heads leaves
(by an older version) is followed by one that has its heads leaf, due at once.

Every proof is built from the log's stored perfect subtrees (`assent.protocol`), so its
cost depends on the tree's height, not its size; a proof reaches no further than the
latest signed checkpoint.
"""

import base64
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from assent.protocol import (
    HEADS_TOPIC,
    Frontier,
    Node,
    Range,
    Signer,
    bucket_leaf_of,
    canonical_json,
    consistency_ranges,
    frontier_nodes,
    heads_root,
    inclusion_ranges,
    map_levels,
    nodes_for,
    range_hash,
)
from services.audit.checkpoint.repository import CheckpointRepository
from services.audit.errors import LogDamaged, NoCheckpoint
from services.audit.log.cache import HeadCache
from services.audit.log.heads import HeadRepository
from services.audit.log.repository import LogRepository
from services.audit.log.service import log_service
from services.audit.models import SignedCheckpoint
from services.audit.witnessing.service import witnessing_service
from services.contracts.audit import (
    CHECKPOINT_PAYLOAD_TYPE,
    Checkpoint,
    CheckpointProof,
    CheckpointRead,
    ConsistencyProof,
    InclusionProof,
)
from services.contracts.signing import Envelope
from services.kit.db import utcnow
from services.kit.errors import FieldError, InvalidRequest


@dataclass(frozen=True)
class CheckpointDue:
    """What a pass found: the checkpoint it signed, or when the next one comes due."""

    signed: SignedCheckpoint | None
    due_at: datetime | None


def _out_of_range(field: str, detail: str) -> InvalidRequest:
    return InvalidRequest(detail, fields=[FieldError(field, detail, "out_of_range")])


def published_object(checkpoint: SignedCheckpoint) -> bytes:
    """What is written to the object store: the signed checkpoint (DSSE envelope)."""
    return canonical_json(checkpoint.envelope)


def checkpoint_read(checkpoint: SignedCheckpoint) -> CheckpointRead:
    envelope = Envelope.model_validate(checkpoint.envelope)
    # The statement as signed, rather than the columns beside it.
    signed = Checkpoint.model_validate_json(base64.b64decode(envelope.payload))
    return CheckpointRead(checkpoint=signed, envelope=envelope, object_key=checkpoint.object_key)


class CheckpointService:
    async def checkpoint_if_due(
        self,
        session: AsyncSession,
        *,
        signer: Signer,
        interval: timedelta,
        now: datetime,
        cache: HeadCache | None = None,
    ) -> CheckpointDue:
        """Append the heads leaf and sign the tree head it ends, unless the tree is signed
        already (with its heads leaf) or the last checkpoint is younger than `interval`.
        `cache` is the sequencer's memory of heads, told of the leaf appended."""
        checkpoints = CheckpointRepository(session)
        log = LogRepository(session)
        latest = await checkpoints.latest()
        size = await log.tree_size()
        signed_size = latest.tree_size if latest is not None else 0
        if size < signed_size:
            # Entries were deleted behind the log's back: never sign the truncated history.
            raise LogDamaged(f"the log holds {size} entries, its last checkpoint {signed_size}")
        begin = await log.links_begin_at()
        if size == signed_size and (
            begin is None or begin >= size or await log.topic_at(size - 1) == HEADS_TOPIC
        ):
            return CheckpointDue(signed=None, due_at=None)
        if latest is not None and now < latest.issued_at + interval:
            return CheckpointDue(signed=None, due_at=latest.issued_at + interval)
        named: str | None = None
        if begin is None:
            root = Frontier.at(size, await log.stored_nodes(frontier_nodes(size))).root()
        else:
            # The map as of every leaf so far, kept under the size of the checkpoint that
            # will end with its heads leaf (for proofs against it later).
            map_root = await self._map_root(session, since=signed_size, size=size + 1)
            head = await log_service.append_heads(
                session, map_root, links_begin_at=begin, cache=cache
            )
            size, root = head.size, head.root
            named = heads_root(map_root, begin)
        checkpoint = Checkpoint(
            tree_size=size, root_hash=root.hex(), issued_at=now, subject_heads_root=named
        )
        envelope = signer.sign(
            CHECKPOINT_PAYLOAD_TYPE, canonical_json(checkpoint.model_dump(mode="json"))
        )
        return CheckpointDue(signed=await checkpoints.add(checkpoint, envelope), due_at=None)

    async def _map_root(self, session: AsyncSession, *, since: int, size: int) -> bytes:
        """The head map's root: the buckets of subjects with entries since the last
        checkpoint are rehashed and kept as of the checkpoint of `size`."""
        heads = HeadRepository(session)
        changed = await heads.bucket_rows(await heads.buckets_changed_since(since))
        await heads.set_buckets(
            {bucket: bucket_leaf_of(bucket, held) for bucket, held in changed.items()},
            tree_size=size,
        )
        return map_levels(await heads.bucket_leaves())[-1][0]

    async def unpublished(self, session: AsyncSession, *, limit: int) -> list[SignedCheckpoint]:
        return await CheckpointRepository(session).unpublished(limit)

    async def mark_published(self, session: AsyncSession, tree_size: int) -> None:
        await CheckpointRepository(session).mark_published(tree_size, at=utcnow())


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
        read = await witnessing_service.with_note(session, checkpoint_read(checkpoint))
        return CheckpointProof(checkpoint=read, consistency=consistency)

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

    async def _nodes(self, session: AsyncSession, ranges: Iterable[Range]) -> dict[Node, bytes]:
        return await LogRepository(session).stored_nodes(nodes_for(ranges))

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

    async def _latest(self, session: AsyncSession) -> SignedCheckpoint:
        # The latest published: witnessed by the quorum (at once when there are none).
        latest = await witnessing_service.latest_published(session)
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


checkpoint_service = CheckpointService()
proof_service = ProofService()
