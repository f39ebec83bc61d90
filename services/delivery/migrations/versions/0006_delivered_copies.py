"""each delivery entry's own copy, with provenance embedded

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 13:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("delivery_entry", schema=None) as batch_op:
        batch_op.add_column(sa.Column("delivered_key", sa.String(length=1024), nullable=True))
        batch_op.add_column(sa.Column("delivered_size", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("delivered_sha256", sa.String(length=64), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_delivery_entry_delivered_sha256"), ["delivered_sha256"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("delivery_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delivery_entry_delivered_sha256"))
        batch_op.drop_column("delivered_sha256")
        batch_op.drop_column("delivered_size")
        batch_op.drop_column("delivered_key")
