"""previews of each version's file, and the versions of a work's details

Revision ID: 0008
Revises: 0007_duplicate_matches
Create Date: 2026-12-06 05:45:00.000000

A version's preview (a thumbnail or waveform picture in the store, a duration, an
excerpt, or why there is none), and each edit of a work's title, description, tags and
kind, kept with who made it and when.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.kit.db

revision: str = "0008"
down_revision: str | None = "0007_duplicate_matches"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PREVIEW_KIND = sa.Enum(
    "thumbnail", "waveform", "excerpt", "none", name="previewkind", native_enum=False, length=20
)
_MEDIA_TYPE = sa.Enum(
    "text", "image", "audio", "video", "other", name="mediatype", native_enum=False, length=20
)


def upgrade() -> None:
    with op.batch_alter_table("work_version", schema=None) as batch_op:
        batch_op.add_column(sa.Column("preview_kind", _PREVIEW_KIND, nullable=True))
        batch_op.add_column(sa.Column("preview_key", sa.String(length=1024), nullable=True))
        batch_op.add_column(sa.Column("duration_ms", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("excerpt", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("preview_note", sa.Text(), nullable=True))
    op.create_table(
        "work_metadata_version",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("work_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("media_type", _MEDIA_TYPE, nullable=False),
        sa.Column("changed", sa.JSON(), nullable=False),
        sa.Column("edited_by", sa.Uuid(), nullable=False),
        sa.Column("edited_at", services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["work_id"], ["work.id"], name=op.f("fk_work_metadata_version_work_id_work")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_metadata_version")),
        sa.UniqueConstraint(
            "work_id", "number", name=op.f("uq_work_metadata_version_work_id_number")
        ),
    )


def downgrade() -> None:
    op.drop_table("work_metadata_version")
    with op.batch_alter_table("work_version", schema=None) as batch_op:
        batch_op.drop_column("preview_note")
        batch_op.drop_column("excerpt")
        batch_op.drop_column("duration_ms")
        batch_op.drop_column("preview_key")
        batch_op.drop_column("preview_kind")
