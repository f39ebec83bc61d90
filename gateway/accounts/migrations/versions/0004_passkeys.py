"""passkeys and their challenges

The gateway's 0003 (the outbox's trace) came first, so passkeys are 0004.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 05:38:17.572460
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
        "passkey",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("credential_id", sa.LargeBinary(length=1023), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.BigInteger(), nullable=False),
        sa.Column("transports", sa.String(length=200), nullable=False),
        sa.Column("created_at", services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", services.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_passkey_account_id_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_passkey")),
        sa.UniqueConstraint("credential_id", name=op.f("uq_passkey_credential_id")),
    )
    with op.batch_alter_table("passkey", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_passkey_account_id"), ["account_id"], unique=False)

    op.create_table(
        "passkey_challenge",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("challenge", sa.LargeBinary(length=64), nullable=False),
        sa.Column("web_session_id", sa.Uuid(), nullable=True),
        sa.Column("expires_at", services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["web_session_id"],
            ["web_session.id"],
            name=op.f("fk_passkey_challenge_web_session_id_web_session"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_passkey_challenge")),
    )
    with op.batch_alter_table("passkey_challenge", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_passkey_challenge_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_passkey_challenge_web_session_id"), ["web_session_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("passkey_challenge", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_passkey_challenge_web_session_id"))
        batch_op.drop_index(batch_op.f("ix_passkey_challenge_expires_at"))

    op.drop_table("passkey_challenge")
    with op.batch_alter_table("passkey", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_passkey_account_id"))

    op.drop_table("passkey")
