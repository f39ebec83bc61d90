"""licence lines found by work, for exclusivity

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-20 10:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Quotes and purchases read every licence still running of the works they sell.
    op.create_index("ix_licence_line_work_id", "licence_line", ["work_id", "ends_at"])


def downgrade() -> None:
    op.drop_index("ix_licence_line_work_id", table_name="licence_line")
