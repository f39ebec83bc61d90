"""The log's tables.

An event is first stored as a `pending_entry` (one cheap insert in the request); the one
sequencer then moves pending entries into the log in batches: a `log_entry` per leaf,
every perfect subtree it completes as a `tree_node`, and its `chain_subject` rows; from
the marker entry on each leaf links its subjects' previous entries, whose latest are kept
in `subject_head` and committed at each checkpoint through the head map's buckets
(`head_bucket`, versioned in `head_bucket_version`). A `checkpoint` is a signed (tree
size, root, heads root), never replaced.
"""

import uuid
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Table,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.kit.db import UTCDateTime, new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()


def table_of(model: type[Base]) -> Table:
    """A model's table, for the bulk statements that skip the ORM's per-row bookkeeping:
    the sequencer moves thousands of entries a second."""
    return cast(Table, model.__table__)


class PendingEntry(Base):
    """An event received but not yet given its place in the log."""

    __tablename__ = "pending_entry"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    event_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    topic: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(50))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Bytes, not text: the canonical JSON may carry a NUL, which PostgreSQL text refuses.
    entry: Mapped[bytes] = mapped_column(LargeBinary)
    # [[kind, subject id], ...] as `services.audit.chain.subjects.subjects_of` read them.
    subjects: Mapped[list[list[str]]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LogEntry(Base):
    """One leaf of the Merkle tree: the logged bytes of one chain event."""

    __tablename__ = "log_entry"

    leaf_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    event_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    topic: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(50))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    entry: Mapped[bytes] = mapped_column(LargeBinary)
    sequenced_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # A linked entry's links (`SubjectLink`s as JSON), from which its leaf bytes are
    # rebuilt; NULL on the entries before the marker, whose leaf is over `entry` itself.
    links: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)


class TreeNode(Base):
    """The hash of the perfect subtree over leaves [index * 2**level, (index + 1) * 2**level)."""

    __tablename__ = "tree_node"

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary)


class ChainSubject(Base):
    """A work, licence or account an entry is about
    (`services.audit.chain.subjects.SubjectKind`)."""

    __tablename__ = "chain_subject"
    # The primary key finds a subject's entries; this index finds an entry's other
    # subjects (the licences on a work's entries, the buyer on a licence's grant).
    __table_args__ = (Index("ix_chain_subject_leaf_index", "leaf_index"),)

    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    subject_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    leaf_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)


class SubjectHead(Base):
    """A linked subject's latest entry: what the next entry about it links to, and what
    the head map (`assent.protocol.bucket_of`) commits at each checkpoint."""

    __tablename__ = "subject_head"
    __table_args__ = (Index("ix_subject_head_bucket", "bucket"),)

    # The id first: the sequencer finds a batch's heads by id alone (`= ANY` of one array).
    subject_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    bucket: Mapped[int] = mapped_column(Integer)
    leaf_index: Mapped[int] = mapped_column(BigInteger)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary)


class HeadBucket(Base):
    """A bucket's leaf in the head map as of the latest checkpoint (`tree_size` is that
    of the checkpoint that last changed it)."""

    __tablename__ = "head_bucket"

    bucket: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    tree_size: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[bytes] = mapped_column(LargeBinary)


class HeadBucketVersion(Base):
    """Every leaf a bucket had, from the checkpoint that set it: a head proof against an
    older checkpoint reads the map as it was."""

    __tablename__ = "head_bucket_version"

    bucket: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary)


class SignedCheckpoint(Base):
    """A signed tree head. The size is the key: the log can never sign two roots for one."""

    __tablename__ = "checkpoint"
    __table_args__ = (
        Index(
            "ix_checkpoint_unpublished",
            "tree_size",
            postgresql_where=text("published_at IS NULL"),
            sqlite_where=text("published_at IS NULL"),
        ),
    )

    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The DSSE envelope as published (`Envelope.model_dump(mode="json")`).
    envelope: Mapped[dict[str, Any]] = mapped_column(JSON)
    object_key: Mapped[str] = mapped_column(String(200))
    # NULL until the signed checkpoint is in the object store; the sequencer retries.
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
