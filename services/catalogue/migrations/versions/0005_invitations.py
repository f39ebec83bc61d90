"""co-creators' invitations and the works' sale status

Revision ID: 0005_invitations
Revises: 0004
Create Date: 2026-11-24 09:00:00.000000

Every co-creator named before this revision never agreed to their share: each gets a
pending invitation, and their works leave the listing until they accept and consent.
The sale status of existing works starts with the reasons their rows alone tell; the
next change of a work recomputes it in full.
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.kit.db

revision: str = "0005_invitations"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "invitation",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("work_id", sa.Uuid(), nullable=False),
        sa.Column("creator_id", sa.Uuid(), nullable=False),
        sa.Column("invited_by", sa.Uuid(), nullable=False),
        sa.Column("basis_points", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "accepted",
                "declined",
                name="invitationstatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("created_at", services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("answered_at", services.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["creator_id"], ["creator.id"], name=op.f("fk_invitation_creator_id_creator")
        ),
        sa.ForeignKeyConstraint(["work_id"], ["work.id"], name=op.f("fk_invitation_work_id_work")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitation")),
        sa.UniqueConstraint("work_id", "creator_id", name=op.f("uq_invitation_work_id_creator_id")),
    )
    op.create_index(op.f("ix_invitation_creator_id"), "invitation", ["creator_id"])
    # Added in place on both backends: rebuilding the table (SQLite's batch mode) would
    # drop the full-text triggers on it.
    op.add_column("work", sa.Column("sale_status", sa.JSON(), nullable=False, server_default="[]"))
    _invite_named_co_creators()
    _record_sale_status()


_WORK = sa.table(
    "work",
    sa.column("id", sa.Uuid()),
    sa.column("owner_id", sa.Uuid()),
    sa.column("created_at", services.kit.db.UTCDateTime(timezone=True)),
    sa.column("status", sa.String()),
    sa.column("review_status", sa.String()),
    sa.column("offer_id", sa.Uuid()),
    sa.column("listed", sa.Boolean()),
    sa.column("sale_status", sa.JSON()),
)
_SHARE = sa.table(
    "work_share",
    sa.column("work_id", sa.Uuid()),
    sa.column("creator_id", sa.Uuid()),
    sa.column("basis_points", sa.Integer()),
)
_INVITATION = sa.table(
    "invitation",
    sa.column("id", sa.Uuid()),
    sa.column("work_id", sa.Uuid()),
    sa.column("creator_id", sa.Uuid()),
    sa.column("invited_by", sa.Uuid()),
    sa.column("basis_points", sa.Integer()),
    sa.column("status", sa.String()),
    sa.column("created_at", services.kit.db.UTCDateTime(timezone=True)),
)


def _invite_named_co_creators() -> None:
    connection = op.get_bind()
    named = connection.execute(
        sa.select(
            _SHARE.c.work_id,
            _SHARE.c.creator_id,
            _SHARE.c.basis_points,
            _WORK.c.owner_id,
            _WORK.c.created_at,
        )
        .select_from(_SHARE.join(_WORK, _WORK.c.id == _SHARE.c.work_id))
        .where(_SHARE.c.creator_id != _WORK.c.owner_id)
    ).all()
    if not named:
        return
    connection.execute(
        _INVITATION.insert(),
        [
            {
                "id": uuid.uuid4(),
                "work_id": row.work_id,
                "creator_id": row.creator_id,
                "invited_by": row.owner_id,
                "basis_points": row.basis_points,
                "status": "pending",
                "created_at": row.created_at,
            }
            for row in named
        ],
    )
    waiting = sa.exists().where(_INVITATION.c.work_id == _WORK.c.id)
    connection.execute(_WORK.update().where(waiting).values(listed=False))


def _record_sale_status() -> None:
    """The first reason each unlisted work's own row tells, most final first."""
    waiting = sa.exists().where(_INVITATION.c.work_id == _WORK.c.id)
    reasons = (
        (_WORK.c.status == "withdrawn", "withdrawn", "withdrawn from sale"),
        (
            _WORK.c.status == "pending_upload",
            "no_file",
            "its file has not been uploaded and verified yet",
        ),
        (
            _WORK.c.review_status == "flagged",
            "held_for_review",
            "held for review: the same file is listed by another creator",
        ),
        (_WORK.c.offer_id.is_(None), "no_offer", "it has no price and terms yet"),
        (waiting, "awaiting_co_creator", "a co-creator has not accepted their share yet"),
        # What is left unlisted had an offer, so a consent once: it is no longer in force.
        (sa.true(), "no_consent", "its creator's consent is not in force"),
    )
    unmarked = sa.cast(_WORK.c.sale_status, sa.Text) == "[]"
    for condition, code, detail in reasons:
        op.get_bind().execute(
            _WORK.update()
            .where(condition, unmarked, _WORK.c.listed.is_(False))
            .values(sale_status=[{"code": code, "detail": detail}])
        )


def downgrade() -> None:
    op.execute("ALTER TABLE work DROP COLUMN sale_status")
    op.drop_index(op.f("ix_invitation_creator_id"), table_name="invitation")
    op.drop_table("invitation")
