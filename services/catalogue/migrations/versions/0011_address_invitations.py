"""co-creators invited by email who have no account yet

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 06:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.kit.db

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "address_invitation",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("work_id", sa.Uuid(), nullable=False),
        sa.Column("address_key", sa.String(length=64), nullable=False),
        sa.Column("invited_by", sa.Uuid(), nullable=False),
        sa.Column("basis_points", sa.Integer(), nullable=False),
        sa.Column("created_at", services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["work_id"], ["work.id"], name=op.f("fk_address_invitation_work_id_work")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_address_invitation")),
        sa.UniqueConstraint(
            "work_id", "address_key", name=op.f("uq_address_invitation_work_id_address_key")
        ),
    )
    op.create_index(
        op.f("ix_address_invitation_address_key"), "address_invitation", ["address_key"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_address_invitation_address_key"), table_name="address_invitation")
    op.drop_table("address_invitation")
