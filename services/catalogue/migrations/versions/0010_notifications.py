"""creators' notifications and which kinds they want mailed

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 06:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.kit.db

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = ("sale", "payout", "review", "invitation", "invitation_answer", "withdrawal")


def _kind() -> sa.Enum:
    return sa.Enum(*KINDS, name="notificationkind", native_enum=False, length=20)


def upgrade() -> None:
    op.create_table(
        "notification",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("creator_id", sa.Uuid(), nullable=False),
        sa.Column("kind", _kind(), nullable=False),
        sa.Column("text", sa.String(length=500), nullable=False),
        sa.Column("work_id", sa.Uuid(), nullable=True),
        sa.Column("invitation_id", sa.Uuid(), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("created_at", services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("read_at", services.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("mail_due_at", services.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("mail_attempts", sa.Integer(), nullable=False),
        sa.Column("mailed_at", services.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["creator_id"], ["creator.id"], name=op.f("fk_notification_creator_id_creator")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification")),
    )
    op.create_index(
        "ix_notification_creator_id_created_at",
        "notification",
        ["creator_id", "created_at", "id"],
    )
    op.create_index(op.f("ix_notification_mail_due_at"), "notification", ["mail_due_at"])
    op.create_table(
        "notification_setting",
        sa.Column("creator_id", sa.Uuid(), nullable=False),
        sa.Column("kind", _kind(), nullable=False),
        sa.Column("mailed", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["creator_id"], ["creator.id"], name=op.f("fk_notification_setting_creator_id_creator")
        ),
        sa.PrimaryKeyConstraint("creator_id", "kind", name=op.f("pk_notification_setting")),
    )


def downgrade() -> None:
    op.drop_table("notification_setting")
    op.drop_index(op.f("ix_notification_mail_due_at"), table_name="notification")
    op.drop_index("ix_notification_creator_id_created_at", table_name="notification")
    op.drop_table("notification")
