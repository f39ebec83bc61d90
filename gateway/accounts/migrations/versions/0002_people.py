"""people: passwords, web sessions and mailed links

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06 02:49:35.988741
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.kit.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mailed_link",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("created_at", services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", services.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("mail_due_at", services.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("mail_attempts", sa.Integer(), nullable=False),
        sa.Column("mailed_at", services.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_mailed_link_account_id_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mailed_link")),
    )
    with op.batch_alter_table("mailed_link", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mailed_link_account_id"), ["account_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_mailed_link_mail_due_at"), ["mail_due_at"], unique=False
        )

    op.create_table(
        "password_credential",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("updated_at", services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("verified_at", services.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_password_credential_account_id_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_password_credential")),
    )
    op.create_table(
        "web_session",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", services.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_web_session_account_id_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_session")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_web_session_token_hash")),
    )
    with op.batch_alter_table("web_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_web_session_account_id"), ["account_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("web_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_session_account_id"))

    op.drop_table("web_session")
    op.drop_table("password_credential")
    with op.batch_alter_table("mailed_link", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mailed_link_mail_due_at"))
        batch_op.drop_index(batch_op.f("ix_mailed_link_account_id"))

    op.drop_table("mailed_link")
