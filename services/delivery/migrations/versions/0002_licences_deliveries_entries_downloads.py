"""licences, deliveries, entries, downloads

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 05:50:41.075003
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
        "licence",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("buyer_id", sa.Uuid(), nullable=False),
        sa.Column("buyer_name", sa.String(length=200), nullable=False),
        sa.Column("bundle_id", sa.Uuid(), nullable=False),
        sa.Column("uses", sa.JSON(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("active", "refunded", name="licencestatus", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("granted_at", services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("refunded_at", services.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("received_at", services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_licence")),
    )
    op.create_table(
        "delivery",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("licence_id", sa.Uuid(), nullable=False),
        sa.Column("buyer_id", sa.Uuid(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "building", "issued", "empty", name="deliverystatus", native_enum=False, length=20
            ),
            nullable=False,
        ),
        sa.Column("created_at", services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("issued_at", services.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("key_id", sa.String(length=64), nullable=True),
        sa.Column("manifest_key", sa.String(length=1024), nullable=True),
        sa.Column("manifest_sha256", sa.String(length=64), nullable=True),
        sa.Column("entry_count", sa.Integer(), nullable=False),
        sa.Column("excluded", sa.JSON(), nullable=False),
        sa.Column("watermark_commitment", sa.String(length=64), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["licence_id"], ["licence.id"], name=op.f("fk_delivery_licence_id_licence")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery")),
        sa.UniqueConstraint("licence_id", name=op.f("uq_delivery_licence_id")),
    )
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.create_index(
            "ix_delivery_building",
            ["next_attempt_at"],
            unique=False,
            postgresql_where=sa.text("status = 'building'"),
            sqlite_where=sa.text("status = 'building'"),
        )

    op.create_table(
        "licence_line",
        sa.Column("licence_id", sa.Uuid(), nullable=False),
        sa.Column("work_id", sa.Uuid(), nullable=False),
        sa.Column("version_id", sa.Uuid(), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column(
            "media_type",
            sa.Enum(
                "text",
                "image",
                "audio",
                "video",
                "other",
                name="mediatype",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("attribution", sa.Text(), nullable=False),
        sa.Column("terms_id", sa.String(length=64), nullable=False),
        sa.Column("ends_at", services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("order_key", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["licence_id"], ["licence.id"], name=op.f("fk_licence_line_licence_id_licence")
        ),
        sa.PrimaryKeyConstraint("licence_id", "work_id", name=op.f("pk_licence_line")),
        sa.UniqueConstraint(
            "licence_id", "order_key", name=op.f("uq_licence_line_licence_id_order_key")
        ),
    )
    op.create_table(
        "delivery_entry",
        sa.Column("fingerprint", sa.String(length=32), nullable=False),
        sa.Column("delivery_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("licence_id", sa.Uuid(), nullable=False),
        sa.Column("work_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"], ["delivery.id"], name=op.f("fk_delivery_entry_delivery_id_delivery")
        ),
        sa.ForeignKeyConstraint(
            ["licence_id", "work_id"],
            ["licence_line.licence_id", "licence_line.work_id"],
            name=op.f("fk_delivery_entry_licence_id_licence_line"),
        ),
        sa.PrimaryKeyConstraint("fingerprint", name=op.f("pk_delivery_entry")),
        sa.UniqueConstraint(
            "delivery_id", "position", name=op.f("uq_delivery_entry_delivery_id_position")
        ),
    )
    op.create_table(
        "download",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("delivery_id", sa.Uuid(), nullable=False),
        sa.Column("fingerprint", sa.String(length=32), nullable=False),
        sa.Column("buyer_id", sa.Uuid(), nullable=False),
        sa.Column("downloaded_at", services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"], ["delivery.id"], name=op.f("fk_download_delivery_id_delivery")
        ),
        sa.ForeignKeyConstraint(
            ["fingerprint"],
            ["delivery_entry.fingerprint"],
            name=op.f("fk_download_fingerprint_delivery_entry"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_download")),
    )


def downgrade() -> None:
    op.drop_table("download")
    op.drop_table("delivery_entry")
    op.drop_table("licence_line")
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_delivery_building",
            postgresql_where=sa.text("status = 'building'"),
            sqlite_where=sa.text("status = 'building'"),
        )

    op.drop_table("delivery")
    op.drop_table("licence")
