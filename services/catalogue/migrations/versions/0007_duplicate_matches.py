"""duplicate matches of works held for review

Revision ID: 0007_duplicate_matches
Revises: 0006_consent_statements
Create Date: 2026-12-05 09:00:00.000000

The other creators' works a held work resembles (the same bytes, or a near image or
text), with the kind of match and its score: what the admins' review queue shows.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.kit.db

revision: str = "0007_duplicate_matches"
down_revision: str | None = "0006_consent_statements"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "duplicate_match",
        sa.Column("work_id", sa.Uuid(), nullable=False),
        sa.Column("matched_work_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("exact", "image", "text", name="duplicatekind", native_enum=False, length=10),
            nullable=False,
        ),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("found_at", services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["work_id"], ["work.id"], name=op.f("fk_duplicate_match_work_id_work")
        ),
        sa.ForeignKeyConstraint(
            ["matched_work_id"], ["work.id"], name=op.f("fk_duplicate_match_matched_work_id_work")
        ),
        sa.PrimaryKeyConstraint("work_id", "matched_work_id", name=op.f("pk_duplicate_match")),
    )


def downgrade() -> None:
    op.drop_table("duplicate_match")
