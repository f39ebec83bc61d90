"""witnessed checkpoints: each checkpoint's signed note, its cosignatures, the witnesses' views

Checkpoints signed before this revision have no note (signing one needs the key, which a
migration does not hold) and stay published as they were; from here on every checkpoint
is also signed as a C2SP tlog-checkpoint note.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 09:00:00.000000
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
        "checkpoint_note",
        sa.Column("tree_size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("signed_at", services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("witnessed_at", services.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tree_size"],
            ["checkpoint.tree_size"],
            name=op.f("fk_checkpoint_note_tree_size_checkpoint"),
        ),
        sa.PrimaryKeyConstraint("tree_size", name=op.f("pk_checkpoint_note")),
    )
    op.create_table(
        "note_cosignature",
        sa.Column("tree_size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("witness", sa.String(length=300), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("cosigned_at", services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tree_size"],
            ["checkpoint_note.tree_size"],
            name=op.f("fk_note_cosignature_tree_size_checkpoint_note"),
        ),
        sa.PrimaryKeyConstraint("tree_size", "witness", name=op.f("pk_note_cosignature")),
    )
    op.create_table(
        "witness_view",
        sa.Column("witness", sa.String(length=300), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("witness", name=op.f("pk_witness_view")),
    )


def downgrade() -> None:
    op.drop_table("witness_view")
    op.drop_table("note_cosignature")
    op.drop_table("checkpoint_note")
