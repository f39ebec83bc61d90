"""subject links: linked entries from a marker entry on, subject heads and the head map

The log's history is not rewritten. This revision appends one marker entry at the end
of the log (a fresh log: leaf 0), whose bytes say that links begin there; every entry
sequenced after it is a linked entry (`assent.protocol.linked_leaf_bytes`). The subject
heads are backfilled from `chain_subject` (kinds work, licence, account, key), so the
first linked entry of a subject names its latest entry from before the marker, and the
head map's buckets are computed for them.

Downgrading drops the links and the heads and removes the marker's row; entries
sequenced since the marker keep their places, but their leaves were over linked bytes
that the older code cannot rebuild, so a downgrade is for going further down (0002's own
downgrade keeps only the events) or for a log that will be discarded.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 09:00:00.000000
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import services.kit.db
from assent.protocol import (
    LINKED_KINDS,
    MARKER_EVENT_ID,
    MARKER_TOPIC,
    Frontier,
    bucket_leaf,
    bucket_of,
    frontier_nodes,
    leaf_hash,
    marker_bytes,
)
from services.contracts.audit import BucketHead, LinkedKind
from services.kit.db import utcnow

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1_000

_LOG = sa.table(
    "log_entry",
    sa.column("leaf_index", sa.BigInteger()),
    sa.column("event_id", sa.Uuid()),
    sa.column("topic", sa.String()),
    sa.column("source", sa.String()),
    sa.column("occurred_at", services.kit.db.UTCDateTime()),
    sa.column("entry", sa.LargeBinary()),
    sa.column("sequenced_at", services.kit.db.UTCDateTime()),
)
_NODE = sa.table(
    "tree_node",
    sa.column("level", sa.SmallInteger()),
    sa.column("index", sa.BigInteger()),
    sa.column("hash", sa.LargeBinary()),
)
_SUBJECT = sa.table(
    "chain_subject",
    sa.column("kind", sa.String()),
    sa.column("subject_id", sa.Uuid()),
    sa.column("leaf_index", sa.BigInteger()),
)
_HEAD = sa.table(
    "subject_head",
    sa.column("kind", sa.String()),
    sa.column("subject_id", sa.Uuid()),
    sa.column("bucket", sa.Integer()),
    sa.column("leaf_index", sa.BigInteger()),
    sa.column("leaf_hash", sa.LargeBinary()),
)
_BUCKET = sa.table(
    "head_bucket",
    sa.column("bucket", sa.Integer()),
    sa.column("tree_size", sa.BigInteger()),
    sa.column("hash", sa.LargeBinary()),
)
_VERSION = sa.table(
    "head_bucket_version",
    sa.column("bucket", sa.Integer()),
    sa.column("tree_size", sa.BigInteger()),
    sa.column("hash", sa.LargeBinary()),
)


def _leaf_hashes(indices: list[int]) -> dict[int, bytes]:
    bind = op.get_bind()
    found: dict[int, bytes] = {}
    for start in range(0, len(indices), BATCH):
        chunk = indices[start : start + BATCH]
        rows = bind.execute(
            sa.select(_NODE.c.index, _NODE.c.hash).where(
                _NODE.c.level == 0, _NODE.c.index.in_(chunk)
            )
        )
        found.update((int(index), digest) for index, digest in rows)
    return found


def _backfill_heads() -> list[dict[str, Any]]:
    """Each linked subject's latest entry before the marker."""
    bind = op.get_bind()
    latest = bind.execute(
        sa.select(_SUBJECT.c.kind, _SUBJECT.c.subject_id, sa.func.max(_SUBJECT.c.leaf_index))
        .where(_SUBJECT.c.kind.in_(sorted(LINKED_KINDS)))
        .group_by(_SUBJECT.c.kind, _SUBJECT.c.subject_id)
    ).all()
    hashes = _leaf_hashes(sorted({int(index) for _, _, index in latest}))
    rows = [
        {
            "kind": kind,
            "subject_id": subject,
            "bucket": bucket_of(kind, subject),
            "leaf_index": int(index),
            "leaf_hash": hashes[int(index)],
        }
        for kind, subject, index in latest
    ]
    for start in range(0, len(rows), BATCH):
        bind.execute(sa.insert(_HEAD), rows[start : start + BATCH])
    return rows


def _append_marker() -> int:
    """The marker entry at the end of the log; the log's new size."""
    bind = op.get_bind()
    last = bind.scalar(sa.select(sa.func.max(_LOG.c.leaf_index)))
    size = 0 if last is None else int(last) + 1
    wanted = frontier_nodes(size)
    nodes = {}
    if wanted:
        rows = bind.execute(
            sa.select(_NODE.c.level, _NODE.c.index, _NODE.c.hash).where(
                sa.tuple_(_NODE.c.level, _NODE.c.index).in_(wanted)
            )
        )
        nodes = {(int(level), int(index)): digest for level, index, digest in rows}
    frontier = Frontier.at(size, nodes)
    entry = marker_bytes(size)
    completed = frontier.append(leaf_hash(entry))
    now = utcnow()
    bind.execute(
        sa.insert(_LOG),
        [
            {
                "leaf_index": size,
                "event_id": MARKER_EVENT_ID,
                "topic": MARKER_TOPIC,
                "source": "audit",
                "occurred_at": now,
                "entry": entry,
                "sequenced_at": now,
            }
        ],
    )
    bind.execute(
        sa.insert(_NODE),
        [{"level": level, "index": index, "hash": digest} for (level, index), digest in completed],
    )
    return frontier.size


def _write_buckets(heads: list[dict[str, Any]], tree_size: int) -> None:
    buckets: dict[int, list[BucketHead]] = {}
    for row in heads:
        buckets.setdefault(row["bucket"], []).append(
            BucketHead(
                kind=LinkedKind(row["kind"]),
                id=row["subject_id"],
                index=row["leaf_index"],
                leaf_hash=row["leaf_hash"].hex(),
            )
        )
    rows = [
        {"bucket": bucket, "tree_size": tree_size, "hash": bucket_leaf(bucket, contents)}
        for bucket, contents in buckets.items()
    ]
    bind = op.get_bind()
    for table in (_BUCKET, _VERSION):
        for start in range(0, len(rows), BATCH):
            bind.execute(sa.insert(table), rows[start : start + BATCH])


def upgrade() -> None:
    with op.batch_alter_table("log_entry", schema=None) as batch_op:
        batch_op.add_column(sa.Column("links", sa.JSON(), nullable=True))
    op.create_table(
        "subject_head",
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("leaf_index", sa.BigInteger(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("subject_id", "kind", name=op.f("pk_subject_head")),
    )
    with op.batch_alter_table("subject_head", schema=None) as batch_op:
        batch_op.create_index("ix_subject_head_bucket", ["bucket"], unique=False)
    op.create_table(
        "head_bucket",
        sa.Column("bucket", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("bucket", name=op.f("pk_head_bucket")),
    )
    op.create_table(
        "head_bucket_version",
        sa.Column("bucket", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("tree_size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("bucket", "tree_size", name=op.f("pk_head_bucket_version")),
    )
    heads = _backfill_heads()
    size = _append_marker()
    _write_buckets(heads, size)


def downgrade() -> None:
    op.execute(sa.delete(_LOG).where(_LOG.c.event_id == MARKER_EVENT_ID))
    op.drop_table("head_bucket_version")
    op.drop_table("head_bucket")
    with op.batch_alter_table("subject_head", schema=None) as batch_op:
        batch_op.drop_index("ix_subject_head_bucket")
    op.drop_table("subject_head")
    with op.batch_alter_table("log_entry", schema=None) as batch_op:
        batch_op.drop_column("links")
