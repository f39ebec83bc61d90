"""The subjects' latest entries and the head map's buckets, as stored.

The sequencer reads a batch's subjects' heads in one query and writes the changed ones
in one upsert; a checkpoint rehashes only the buckets whose subjects changed since the
previous one. Rows are plain tuples, as in the log's repository, for the sequencer's
speed.
"""

import uuid
from collections.abc import Collection, Iterable, Mapping

from sqlalchemy import (
    BigInteger,
    Integer,
    LargeBinary,
    String,
    Uuid,
    any_,
    bindparam,
    func,
    select,
    text,
    tuple_,
)
from sqlalchemy.dialects import postgresql

from assent.protocol import BUCKETS, bucket_of, empty_bucket_leaves
from services.audit.log.repository import in_chunks
from services.audit.models import (
    ChainSubject,
    HeadBucket,
    HeadBucketVersion,
    SubjectHead,
    TreeNode,
    table_of,
)
from services.contracts.audit import BucketHead
from services.kit.db import dialect_insert
from services.kit.repository import Repository

HeadKey = tuple[str, uuid.UUID]
Head = tuple[int, bytes]
"""(leaf index, leaf hash)."""

# PostgreSQL's upsert of a batch's heads, the arrays unnested in one statement.
_UPSERT_HEADS = text(
    "INSERT INTO subject_head (kind, subject_id, bucket, leaf_index, leaf_hash) "
    "SELECT * FROM unnest(:kinds, :ids, :buckets, :indices, :hashes) "
    "ON CONFLICT (subject_id, kind) DO UPDATE "
    "SET leaf_index = excluded.leaf_index, leaf_hash = excluded.leaf_hash"
).bindparams(
    bindparam("kinds", type_=postgresql.ARRAY(String())),
    bindparam("ids", type_=postgresql.ARRAY(Uuid())),
    bindparam("buckets", type_=postgresql.ARRAY(Integer())),
    bindparam("indices", type_=postgresql.ARRAY(BigInteger())),
    bindparam("hashes", type_=postgresql.ARRAY(LargeBinary())),
)


class HeadRepository(Repository[SubjectHead]):
    model = SubjectHead

    async def current(self, keys: Collection[HeadKey]) -> dict[HeadKey, Head]:
        """The subjects' latest entries, found by id: on PostgreSQL one array bound
        once, rather than a statement of a thousand parameters compiled per chunk."""
        found: dict[HeadKey, Head] = {}
        ids = list({subject for _, subject in keys})
        columns = (
            SubjectHead.kind,
            SubjectHead.subject_id,
            SubjectHead.leaf_index,
            SubjectHead.leaf_hash,
        )
        if self._postgresql:
            wanted = bindparam("ids", ids, type_=postgresql.ARRAY(Uuid()))
            statements = [select(*columns).where(SubjectHead.subject_id == any_(wanted))]
        else:
            statements = [
                select(*columns).where(SubjectHead.subject_id.in_(chunk))
                for chunk in in_chunks(ids)
            ]
        for statement in statements:
            for kind, subject, index, digest in await self.session.execute(statement):
                found[(kind, subject)] = (index, digest)
        return {key: head for key, head in found.items() if key in keys}

    @property
    def _postgresql(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"

    async def advance(self, heads: Mapping[HeadKey, Head]) -> None:
        """Each subject's new latest entry (inserted for a subject seen the first time)."""
        if not heads:
            return
        if self._postgresql:
            # One statement over arrays: an upsert per row costs more than the hashing.
            await self.session.execute(
                _UPSERT_HEADS,
                {
                    "kinds": [kind for kind, _ in heads],
                    "ids": [subject for _, subject in heads],
                    "buckets": [bucket_of(kind, subject) for kind, subject in heads],
                    "indices": [index for index, _ in heads.values()],
                    "hashes": [digest for _, digest in heads.values()],
                },
            )
            return
        insert = dialect_insert(self.session)(table_of(SubjectHead))
        statement = insert.on_conflict_do_update(
            index_elements=["subject_id", "kind"],
            set_={"leaf_index": insert.excluded.leaf_index, "leaf_hash": insert.excluded.leaf_hash},
        )
        await self.session.execute(
            statement,
            [
                {
                    "kind": kind,
                    "subject_id": subject,
                    "bucket": bucket_of(kind, subject),
                    "leaf_index": index,
                    "leaf_hash": digest,
                }
                for (kind, subject), (index, digest) in heads.items()
            ],
        )

    async def buckets_changed_since(self, tree_size: int) -> set[int]:
        """The buckets of the subjects with an entry at `tree_size` or later."""
        statement = (
            select(SubjectHead.bucket)
            .distinct()
            .join(
                ChainSubject,
                (ChainSubject.kind == SubjectHead.kind)
                & (ChainSubject.subject_id == SubjectHead.subject_id),
            )
            .where(ChainSubject.leaf_index >= tree_size)
        )
        return set(await self.session.scalars(statement))

    async def bucket_heads(self, buckets: Collection[int]) -> dict[int, list[BucketHead]]:
        """The latest heads of every subject in the buckets."""
        return {
            bucket: [
                BucketHead(kind=kind, id=uuid.UUID(subject), index=index, leaf_hash=digest)
                for kind, subject, index, digest in rows
            ]
            for bucket, rows in (await self.bucket_rows(buckets)).items()
        }

    async def bucket_rows(
        self, buckets: Collection[int]
    ) -> dict[int, list[tuple[str, str, int, str]]]:
        """`bucket_heads` as plain (kind, id, index, leaf hash hex) rows, for hashing."""
        found: dict[int, list[tuple[str, str, int, str]]] = {bucket: [] for bucket in buckets}
        for chunk in in_chunks(buckets):
            rows = await self.session.execute(
                select(
                    SubjectHead.bucket,
                    SubjectHead.kind,
                    SubjectHead.subject_id,
                    SubjectHead.leaf_index,
                    SubjectHead.leaf_hash,
                ).where(SubjectHead.bucket.in_(chunk))
            )
            for bucket, kind, subject, index, digest in rows:
                found[bucket].append((kind, str(subject), int(index), digest.hex()))
        return found

    async def bucket_heads_as_of(
        self, buckets: Collection[int], tree_size: int
    ) -> dict[int, list[BucketHead]]:
        """The buckets as the map held them at `tree_size`: each subject's latest entry
        before it, found in its chain where its head has moved on since."""
        latest = await self.bucket_heads(buckets)
        moved = [
            (bucket, head)
            for bucket, heads in latest.items()
            for head in heads
            if head.index >= tree_size
        ]
        found = {
            bucket: [head for head in heads if head.index < tree_size]
            for bucket, heads in latest.items()
        }
        if not moved:
            return found
        earlier: dict[HeadKey, int] = {}
        key = tuple_(ChainSubject.kind, ChainSubject.subject_id)
        for chunk in in_chunks([(head.kind.value, head.id) for _, head in moved]):
            rows = await self.session.execute(
                select(
                    ChainSubject.kind, ChainSubject.subject_id, func.max(ChainSubject.leaf_index)
                )
                .where(key.in_(chunk), ChainSubject.leaf_index < tree_size)
                .group_by(ChainSubject.kind, ChainSubject.subject_id)
            )
            earlier.update(((kind, subject), int(index)) for kind, subject, index in rows)
        leaves = await self._leaf_hashes(earlier.values())
        for bucket, head in moved:
            index = earlier.get((head.kind.value, head.id))
            if index is not None:
                found[bucket].append(
                    BucketHead(
                        kind=head.kind, id=head.id, index=index, leaf_hash=leaves[index].hex()
                    )
                )
        return found

    async def _leaf_hashes(self, indices: Iterable[int]) -> dict[int, bytes]:
        found: dict[int, bytes] = {}
        for chunk in in_chunks(set(indices)):
            rows = await self.session.execute(
                select(TreeNode.index, TreeNode.hash).where(
                    TreeNode.level == 0, TreeNode.index.in_(chunk)
                )
            )
            found.update((int(index), digest) for index, digest in rows)
        return found

    async def set_buckets(self, leaves: Mapping[int, bytes], *, tree_size: int) -> None:
        """The buckets' new leaves as of the checkpoint of `tree_size`."""
        if not leaves:
            return
        rows = [
            {"bucket": bucket, "tree_size": tree_size, "hash": digest}
            for bucket, digest in leaves.items()
        ]
        insert = dialect_insert(self.session)(table_of(HeadBucket))
        await self.session.execute(
            insert.on_conflict_do_update(
                index_elements=["bucket"],
                set_={"tree_size": insert.excluded.tree_size, "hash": insert.excluded.hash},
            ),
            rows,
        )
        version = dialect_insert(self.session)(table_of(HeadBucketVersion))
        await self.session.execute(version.on_conflict_do_nothing(), rows)

    async def bucket_leaves(self, tree_size: int | None = None) -> list[bytes]:
        """Every bucket's leaf, as of the latest checkpoint or of an earlier size; a
        bucket never written is empty."""
        leaves = empty_bucket_leaves()
        if tree_size is None:
            statement = select(HeadBucket.bucket, HeadBucket.hash)
        else:
            at = (
                select(HeadBucketVersion.bucket, func.max(HeadBucketVersion.tree_size).label("at"))
                .where(HeadBucketVersion.tree_size <= tree_size)
                .group_by(HeadBucketVersion.bucket)
                .subquery()
            )
            statement = select(HeadBucketVersion.bucket, HeadBucketVersion.hash).join(
                at,
                (at.c.bucket == HeadBucketVersion.bucket)
                & (at.c.at == HeadBucketVersion.tree_size),
            )
        for bucket, digest in await self.session.execute(statement):
            if 0 <= bucket < BUCKETS:
                leaves[bucket] = digest
        return leaves
