"""a delivery's WebDataset shard set and its shards

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 07:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.kit.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "shard_set",
        sa.Column("delivery_id", sa.Uuid(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("building", "issued", name="shardsetstatus", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("requested_at", services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("issued_at", services.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("shard_bytes", sa.BigInteger(), nullable=False),
        sa.Column("index_key", sa.String(length=1024), nullable=True),
        sa.Column("index_size", sa.BigInteger(), nullable=True),
        sa.Column("index_sha256", sa.String(length=64), nullable=True),
        sa.Column("record_count", sa.Integer(), nullable=False),
        sa.Column("envelope", sa.JSON(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("lease_id", sa.Uuid(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["delivery_id"], ["delivery.id"], name=op.f("fk_shard_set_delivery_id_delivery")
        ),
        sa.PrimaryKeyConstraint("delivery_id", name=op.f("pk_shard_set")),
    )
    with op.batch_alter_table("shard_set", schema=None) as batch_op:
        batch_op.create_index(
            "ix_shard_set_building",
            ["next_attempt_at"],
            unique=False,
            postgresql_where=sa.text("status = 'building'"),
            sqlite_where=sa.text("status = 'building'"),
        )
    op.create_table(
        "shard",
        sa.Column("delivery_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=1024), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["shard_set.delivery_id"],
            name=op.f("fk_shard_delivery_id_shard_set"),
        ),
        sa.PrimaryKeyConstraint("delivery_id", "position", name=op.f("pk_shard")),
    )


def downgrade() -> None:
    op.drop_table("shard")
    with op.batch_alter_table("shard_set", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_shard_set_building",
            postgresql_where=sa.text("status = 'building'"),
            sqlite_where=sa.text("status = 'building'"),
        )
    op.drop_table("shard_set")
