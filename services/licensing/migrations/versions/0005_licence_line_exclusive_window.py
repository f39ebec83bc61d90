"""licence lines keep when their exclusive window closes

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 09:00:00.000000
"""

from collections.abc import Sequence
from datetime import timedelta

import sqlalchemy as sa
from alembic import op

import services.kit.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LINES = sa.table(
    "licence_line",
    sa.column("licence_id", sa.Uuid()),
    sa.column("work_id", sa.Uuid()),
    sa.column("terms", sa.JSON()),
    sa.column("starts_at", services.kit.db.UTCDateTime(timezone=True)),
    sa.column("ends_at", services.kit.db.UTCDateTime(timezone=True)),
    sa.column("exclusive_until", services.kit.db.UTCDateTime(timezone=True)),
)


def upgrade() -> None:
    op.add_column(
        "licence_line",
        sa.Column("exclusive_until", services.kit.db.UTCDateTime(timezone=True), nullable=True),
    )
    # Lines sold before: their window, from the terms they were sold under (as
    # licence/exclusivity.py computes it for new sales).
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(
            _LINES.c.licence_id,
            _LINES.c.work_id,
            _LINES.c.terms,
            _LINES.c.starts_at,
            _LINES.c.ends_at,
        )
    ).all()
    for licence_id, work_id, terms, starts_at, ends_at in rows:
        days = int((terms or {}).get("exclusivity_days") or 0)
        if not days:
            continue
        bind.execute(
            sa.update(_LINES)
            .where(_LINES.c.licence_id == licence_id, _LINES.c.work_id == work_id)
            .values(exclusive_until=min(starts_at + timedelta(days=days), ends_at))
        )
    op.create_index(
        "ix_licence_line_exclusive_window",
        "licence_line",
        ["work_id", "exclusive_until"],
        postgresql_where=sa.text("exclusive_until IS NOT NULL"),
        sqlite_where=sa.text("exclusive_until IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_licence_line_exclusive_window", table_name="licence_line")
    op.drop_column("licence_line", "exclusive_until")
