"""invitations to co-create mailed to addresses with no verified account

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 06:45:00.000000
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
        "address_invitation_mail",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("work_title", sa.String(length=300), nullable=False),
        sa.Column("inviter_name", sa.String(length=200), nullable=False),
        sa.Column("created_at", services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("mail_due_at", services.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("mail_attempts", sa.Integer(), nullable=False),
        sa.Column("mailed_at", services.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_address_invitation_mail")),
    )
    op.create_index(
        op.f("ix_address_invitation_mail_mail_due_at"),
        "address_invitation_mail",
        ["mail_due_at"],
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_address_invitation_mail_mail_due_at"), table_name="address_invitation_mail"
    )
    op.drop_table("address_invitation_mail")
