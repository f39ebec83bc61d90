"""fingerprints for near duplicates

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 10:00:00.000000

Perceptual (images) and MinHash (texts) fingerprints of works' files, and their bands.
The band table's primary key (kind, band, value, fingerprint_id) is the lookup's index
and holds a copy of the signature (INCLUDE on PostgreSQL, WITHOUT ROWID on SQLite): a
near-match lookup is a handful of exact probes that read adjacent index entries only.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.kit.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _kind() -> sa.Enum:
    return sa.Enum("image", "text", name="fingerprintkind", native_enum=False, length=10)


def upgrade() -> None:
    op.create_table(
        "fingerprint",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("work_id", sa.Uuid(), nullable=False),
        sa.Column("creator_id", sa.Uuid(), nullable=False),
        sa.Column("kind", _kind(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["work_id"], ["work.id"], name=op.f("fk_fingerprint_work_id_work")),
        sa.ForeignKeyConstraint(
            ["creator_id"], ["creator.id"], name=op.f("fk_fingerprint_creator_id_creator")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fingerprint")),
    )
    op.create_index(op.f("ix_fingerprint_work_id"), "fingerprint", ["work_id"])
    op.create_table(
        "fingerprint_band",
        sa.Column("kind", _kind(), nullable=False),
        sa.Column("band", sa.SmallInteger(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("fingerprint_id", sa.Uuid(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["fingerprint_id"],
            ["fingerprint.id"],
            name=op.f("fk_fingerprint_band_fingerprint_id_fingerprint"),
        ),
        sa.PrimaryKeyConstraint(
            "kind",
            "band",
            "value",
            "fingerprint_id",
            name=op.f("pk_fingerprint_band"),
            postgresql_include=["signature"],
        ),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("fingerprint_band")
    op.drop_index(op.f("ix_fingerprint_work_id"), table_name="fingerprint")
    op.drop_table("fingerprint")
