"""consent statements stored once by hash, and rights attestations

Revision ID: 0006_consent_statements
Revises: 0005_invitations
Create Date: 2026-11-24 12:00:00.000000

A consent names a platform statement by id and version, and points at its words in
`statement_text`, stored once under their sha256. Consents given before then held their
own free words: each distinct text moves, unchanged, to `statement_text` under the hash
those consents already recorded, and they name the legacy statement with the version
they were given under. Nothing that was agreed is rewritten.

Going down copies the words back onto each consent; statement ids and attestations,
which the older schema has no place for, are dropped.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.kit.db

revision: str = "0006_consent_statements"
down_revision: str | None = "0005_invitations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEGACY_STATEMENT_ID = "legacy"
_STATEMENT_KEY = "fk_consent_statement_sha256_statement_text"


def upgrade() -> None:
    op.create_table(
        "statement_text",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_statement_text")),
    )
    # Every consent with the same hash holds the same words; the first one given dates them.
    op.execute(
        """
        INSERT INTO statement_text (sha256, text, created_at)
        SELECT statement_sha256, MIN(statement_text), MIN(given_at)
        FROM consent GROUP BY statement_sha256
        """
    )
    with op.batch_alter_table("consent") as batch:
        batch.add_column(
            sa.Column(
                "statement_id",
                sa.String(length=50),
                nullable=False,
                server_default=LEGACY_STATEMENT_ID,
            )
        )
        batch.add_column(sa.Column("attestation", sa.JSON(), nullable=True))
        batch.drop_column("statement_text")
        batch.create_foreign_key(
            op.f(_STATEMENT_KEY), "statement_text", ["statement_sha256"], ["sha256"]
        )
    # The default named the rows already there; every new consent names its statement.
    with op.batch_alter_table("consent") as batch:
        batch.alter_column("statement_id", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("consent") as batch:
        batch.add_column(sa.Column("statement_text", sa.Text(), nullable=False, server_default=""))
    op.execute(
        """
        UPDATE consent SET statement_text = (
            SELECT text FROM statement_text WHERE statement_text.sha256 = consent.statement_sha256
        )
        """
    )
    with op.batch_alter_table("consent") as batch:
        batch.alter_column("statement_text", server_default=None)
        batch.drop_constraint(op.f(_STATEMENT_KEY), type_="foreignkey")
        batch.drop_column("attestation")
        batch.drop_column("statement_id")
    op.drop_table("statement_text")
