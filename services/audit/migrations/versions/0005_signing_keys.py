"""the signing key history: public halves and intervals, never a secret

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 12:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.kit.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "signing_key",
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("purpose", sa.String(length=50), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("seed_id", sa.String(length=64), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("valid_from", services.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("valid_until", services.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("recorded_at", services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_signing_key")),
        sa.UniqueConstraint(
            "seed_id", "generation", name=op.f("uq_signing_key_seed_id_generation")
        ),
    )
    op.create_index(
        "ix_signing_key_open",
        "signing_key",
        ["purpose"],
        unique=True,
        postgresql_where=sa.text("valid_until IS NULL"),
        sqlite_where=sa.text("valid_until IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_signing_key_open", table_name="signing_key")
    op.drop_table("signing_key")
