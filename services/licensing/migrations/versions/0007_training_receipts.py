"""labs' receipt keys, training runs and the licence lines each used; revocations

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 23:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.kit.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MOMENT = services.kit.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("licence", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revoked_at", MOMENT, nullable=True))
        batch_op.add_column(sa.Column("revoked_by", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("revocation_reason", sa.Text(), nullable=True))
    op.create_table(
        "training_key",
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("buyer_id", sa.Uuid(), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("created_at", MOMENT, nullable=False),
        sa.Column("revoked_at", MOMENT, nullable=True),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_training_key")),
    )
    op.create_index(op.f("ix_training_key_buyer_id"), "training_key", ["buyer_id"])
    op.create_table(
        "training_run",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("buyer_id", sa.Uuid(), nullable=False),
        sa.Column("buyer_name", sa.String(length=200), nullable=False),
        sa.Column("model_name", sa.String(length=200), nullable=False),
        sa.Column("model_version", sa.String(length=100), nullable=False),
        sa.Column("declared_use", sa.String(length=20), nullable=False),
        sa.Column("started_at", MOMENT, nullable=False),
        sa.Column("ended_at", MOMENT, nullable=False),
        sa.Column("record_count", sa.Integer(), nullable=False),
        sa.Column("statement", sa.JSON(), nullable=False),
        sa.Column("statement_sha256", sa.String(length=64), nullable=False),
        sa.Column("lab_key_id", sa.String(length=16), nullable=False),
        sa.Column("lab_signature", sa.String(length=100), nullable=False),
        sa.Column("platform_key_id", sa.String(length=16), nullable=False),
        sa.Column("platform_signature", sa.String(length=100), nullable=False),
        sa.Column("recorded_at", MOMENT, nullable=False),
        sa.ForeignKeyConstraint(
            ["lab_key_id"],
            ["training_key.key_id"],
            name=op.f("fk_training_run_lab_key_id_training_key"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_run")),
    )
    op.create_index("ix_training_run_buyer_model", "training_run", ["buyer_id", "model_name"])
    op.create_table(
        "training_record",
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("licence_id", sa.Uuid(), nullable=False),
        sa.Column("work_id", sa.Uuid(), nullable=False),
        sa.Column("model_name", sa.String(length=200), nullable=False),
        sa.Column("model_version", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["licence_id", "work_id"],
            ["licence_line.licence_id", "licence_line.work_id"],
            name=op.f("fk_training_record_licence_id_licence_line"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["training_run.id"], name=op.f("fk_training_record_run_id_training_run")
        ),
        sa.PrimaryKeyConstraint("run_id", "licence_id", "work_id", name=op.f("pk_training_record")),
    )
    op.create_index(
        "ix_training_record_line_model",
        "training_record",
        ["licence_id", "work_id", "model_name", "model_version"],
    )
    op.create_index("ix_training_record_work", "training_record", ["work_id"])


def downgrade() -> None:
    op.drop_index("ix_training_record_work", table_name="training_record")
    op.drop_index("ix_training_record_line_model", table_name="training_record")
    op.drop_table("training_record")
    op.drop_index("ix_training_run_buyer_model", table_name="training_run")
    op.drop_table("training_run")
    op.drop_index(op.f("ix_training_key_buyer_id"), table_name="training_key")
    op.drop_table("training_key")
    with op.batch_alter_table("licence", schema=None) as batch_op:
        batch_op.drop_column("revocation_reason")
        batch_op.drop_column("revoked_by")
        batch_op.drop_column("revoked_at")
