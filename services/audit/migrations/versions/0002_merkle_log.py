"""the Merkle log: pending entries, leaves, tree nodes, chain subjects, checkpoints

The first log kept each event's columns in a `log_entry` table ordered by `seq`. Those
events are carried over as pending entries, in `seq` order, with their logged bytes
rebuilt from the columns; the sequencer then gives them the first places in the tree.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 09:00:00.000000
"""

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import services.kit.db
from services.audit.chain.subjects import entry_bytes, subjects_of
from services.contracts.events import EventEnvelope

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1_000

_OLD_LOG = sa.table(
    "log_entry",
    sa.column("seq", sa.BigInteger()),
    sa.column("event_id", sa.Uuid()),
    sa.column("topic", sa.String()),
    sa.column("source", sa.String()),
    sa.column("occurred_at", services.kit.db.UTCDateTime()),
    sa.column("received_at", services.kit.db.UTCDateTime()),
    sa.column("payload", sa.JSON()),
)
_PENDING = sa.table(
    "pending_entry",
    sa.column("id", sa.BigInteger()),
    sa.column("event_id", sa.Uuid()),
    sa.column("topic", sa.String()),
    sa.column("source", sa.String()),
    sa.column("occurred_at", services.kit.db.UTCDateTime()),
    sa.column("entry", sa.LargeBinary()),
    sa.column("subjects", sa.JSON()),
    sa.column("received_at", services.kit.db.UTCDateTime()),
)
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
# Where the downgrade keeps the events while the tables are swapped back.
_STAGED = sa.table(
    "legacy_log_entry",
    sa.column("seq", sa.BigInteger()),
    sa.column("event_id", sa.Uuid()),
    sa.column("topic", sa.String()),
    sa.column("source", sa.String()),
    sa.column("occurred_at", services.kit.db.UTCDateTime()),
    sa.column("received_at", services.kit.db.UTCDateTime()),
    sa.column("payload", sa.JSON()),
)
_OLD_COLUMNS = ("event_id", "topic", "source", "occurred_at", "received_at", "payload")


def _autoincrement_id(name: str) -> sa.Column[int]:
    return sa.Column(
        name,
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        autoincrement=True,
        nullable=False,
    )


def _create_old_log(name: str) -> None:
    op.create_table(
        name,
        _autoincrement_id("seq"),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("topic", sa.String(length=100), nullable=False),
        sa.Column("source", sa.String(length=50), nullable=False),
        sa.Column("occurred_at", services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f(f"pk_{name}")),
        sa.UniqueConstraint("event_id", name=op.f(f"uq_{name}_event_id")),
    )


def _pending_row(old: Any) -> dict[str, Any]:
    # The bytes intake would have logged for the event: the envelope rebuilt from its columns.
    envelope = EventEnvelope(
        id=old.event_id,
        topic=old.topic,
        source=old.source,
        occurred_at=old.occurred_at,
        payload=old.payload,
    )
    return {
        "event_id": old.event_id,
        "topic": old.topic,
        "source": old.source,
        "occurred_at": old.occurred_at,
        "entry": entry_bytes(envelope),
        "subjects": [[kind.value, str(subject)] for kind, subject in subjects_of(envelope)],
        "received_at": old.received_at,
    }


def _carry_old_log_to_pending() -> None:
    bind = op.get_bind()
    after = None
    while True:
        statement = sa.select(_OLD_LOG).order_by(_OLD_LOG.c.seq).limit(BATCH)
        if after is not None:
            statement = statement.where(_OLD_LOG.c.seq > after)
        rows = bind.execute(statement).all()
        if not rows:
            return
        bind.execute(sa.insert(_PENDING), [_pending_row(row) for row in rows])
        after = rows[-1].seq


def _old_row(entry: bytes, received_at: Any) -> dict[str, Any]:
    logged = json.loads(entry)
    envelope = EventEnvelope.model_validate(logged)
    return {
        "event_id": envelope.id,
        "topic": envelope.topic.value,
        "source": envelope.source,
        "occurred_at": envelope.occurred_at,
        "received_at": received_at,
        "payload": envelope.payload,
    }


def _stage(table: Any, key: Any, received_at: Any) -> None:
    """Copy every entry of `table` to the staging table, in `key` order."""
    bind = op.get_bind()
    after = None
    while True:
        statement = sa.select(key, table.c.entry, received_at).order_by(key).limit(BATCH)
        if after is not None:
            statement = statement.where(key > after)
        rows = bind.execute(statement).all()
        if not rows:
            return
        bind.execute(sa.insert(_STAGED), [_old_row(row[1], row[2]) for row in rows])
        after = rows[-1][0]


def upgrade() -> None:
    op.create_table(
        "pending_entry",
        _autoincrement_id("id"),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("topic", sa.String(length=100), nullable=False),
        sa.Column("source", sa.String(length=50), nullable=False),
        sa.Column("occurred_at", services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("entry", sa.LargeBinary(), nullable=False),
        sa.Column("subjects", sa.JSON(), nullable=False),
        sa.Column("received_at", services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_entry")),
        sa.UniqueConstraint("event_id", name=op.f("uq_pending_entry_event_id")),
    )
    op.create_table(
        "tree_node",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("level", "index", name=op.f("pk_tree_node")),
    )
    op.create_table(
        "chain_subject",
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("leaf_index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("kind", "subject_id", "leaf_index", name=op.f("pk_chain_subject")),
    )
    with op.batch_alter_table("chain_subject", schema=None) as batch_op:
        batch_op.create_index("ix_chain_subject_leaf_index", ["leaf_index"], unique=False)
    op.create_table(
        "checkpoint",
        sa.Column("tree_size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root_hash", sa.String(length=64), nullable=False),
        sa.Column("issued_at", services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("envelope", sa.JSON(), nullable=False),
        sa.Column("object_key", sa.String(length=200), nullable=False),
        sa.Column("published_at", services.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("tree_size", name=op.f("pk_checkpoint")),
    )
    with op.batch_alter_table("checkpoint", schema=None) as batch_op:
        batch_op.create_index(
            "ix_checkpoint_unpublished",
            ["tree_size"],
            unique=False,
            postgresql_where=sa.text("published_at IS NULL"),
            sqlite_where=sa.text("published_at IS NULL"),
        )

    _carry_old_log_to_pending()

    with op.batch_alter_table("log_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_log_entry_topic"))
    op.drop_table("log_entry")
    op.create_table(
        "log_entry",
        sa.Column("leaf_index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("topic", sa.String(length=100), nullable=False),
        sa.Column("source", sa.String(length=50), nullable=False),
        sa.Column("occurred_at", services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("entry", sa.LargeBinary(), nullable=False),
        sa.Column("sequenced_at", services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("leaf_index", name=op.f("pk_log_entry")),
        sa.UniqueConstraint("event_id", name=op.f("uq_log_entry_event_id")),
    )


def downgrade() -> None:
    # Every event goes back to the first shape, logged ones first in log order, then the
    # pending ones in arrival order; the tree and the checkpoints cannot be kept.
    _create_old_log("legacy_log_entry")
    _stage(_LOG, _LOG.c.leaf_index, _LOG.c.sequenced_at)
    _stage(_PENDING, _PENDING.c.id, _PENDING.c.received_at)

    op.drop_table("log_entry")
    with op.batch_alter_table("checkpoint", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_checkpoint_unpublished",
            postgresql_where=sa.text("published_at IS NULL"),
            sqlite_where=sa.text("published_at IS NULL"),
        )
    op.drop_table("checkpoint")
    with op.batch_alter_table("chain_subject", schema=None) as batch_op:
        batch_op.drop_index("ix_chain_subject_leaf_index")
    op.drop_table("chain_subject")
    op.drop_table("tree_node")
    op.drop_table("pending_entry")

    _create_old_log("log_entry")
    with op.batch_alter_table("log_entry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_log_entry_topic"), ["topic"], unique=False)
    columns = [_STAGED.c[name] for name in _OLD_COLUMNS]
    op.execute(
        sa.insert(_OLD_LOG).from_select(
            list(_OLD_COLUMNS), sa.select(*columns).order_by(_STAGED.c.seq)
        )
    )
    op.drop_table("legacy_log_entry")
