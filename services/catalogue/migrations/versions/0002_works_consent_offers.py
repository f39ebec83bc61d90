"""works, consent, offers

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 03:49:47.011477
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import services.kit.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The work row points at its current version, consent and offer, which point back at
# the work: PostgreSQL gets these keys once every table exists; SQLite (which cannot add
# a key later) takes them inline, where SQLAlchemy renders `use_alter` keys.
_POINTERS = (
    ("current_version_id", "work_version"),
    ("pending_version_id", "work_version"),
    ("consent_id", "consent"),
    ("offer_id", "offer"),
)


def _enum(*values: str, name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=20)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "creator",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_creator")),
    )
    op.create_table(
        "terms",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("canonical_json", sa.Text(), nullable=False),
        sa.Column("created_at", services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_terms")),
    )
    op.create_table(
        "work",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "media_type",
            _enum("text", "image", "audio", "video", "other", name="mediatype"),
            nullable=False,
        ),
        sa.Column(
            "tags",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("language", sa.String(length=35), nullable=False),
        sa.Column(
            "status",
            _enum("pending_upload", "ready", "withdrawn", name="workstatus"),
            nullable=False,
        ),
        sa.Column("review_status", _enum("clear", "flagged", name="reviewstatus"), nullable=False),
        sa.Column("review_note", sa.Text(), nullable=True),
        sa.Column("reviewed_by", sa.Uuid(), nullable=True),
        sa.Column("reviewed_at", services.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", services.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_by", sa.Uuid(), nullable=True),
        sa.Column("current_version_id", sa.Uuid(), nullable=True),
        sa.Column("pending_version_id", sa.Uuid(), nullable=True),
        sa.Column("consent_id", sa.Uuid(), nullable=True),
        sa.Column("offer_id", sa.Uuid(), nullable=True),
        sa.Column("listed", sa.Boolean(), nullable=False),
        sa.Column("price_minor", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("offer_uses", sa.Integer(), nullable=False),
        *(
            sa.ForeignKeyConstraint(
                [column], [f"{table}.id"], name=op.f(f"fk_work_{column}_{table}"), use_alter=True
            )
            for column, table in _POINTERS
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["creator.id"], name=op.f("fk_work_owner_id_creator")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work")),
    )
    op.create_index(
        "ix_work_owner_id_created_at", "work", ["owner_id", "created_at", "id"], unique=False
    )
    op.create_index(
        "ix_work_listed_created_at",
        "work",
        ["created_at", "id"],
        unique=False,
        postgresql_where=sa.text("listed"),
        sqlite_where=sa.text("listed = 1"),
    )
    op.create_index(
        "ix_work_listed_price_minor",
        "work",
        ["price_minor", "id"],
        unique=False,
        postgresql_where=sa.text("listed"),
        sqlite_where=sa.text("listed = 1"),
    )
    op.create_table(
        "consent",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("work_id", sa.Uuid(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column(
            "kind", _enum("given", "revised", "withdrawn", name="consentkind"), nullable=False
        ),
        sa.Column("uses", sa.JSON(), nullable=False),
        sa.Column("statement_text", sa.Text(), nullable=False),
        sa.Column("statement_version", sa.String(length=50), nullable=False),
        sa.Column("statement_sha256", sa.String(length=64), nullable=False),
        sa.Column("given_by", sa.Uuid(), nullable=False),
        sa.Column("given_at", services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["work_id"], ["work.id"], name=op.f("fk_consent_work_id_work")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent")),
        sa.UniqueConstraint("work_id", "sequence", name=op.f("uq_consent_work_id_sequence")),
    )
    op.create_table(
        "offer",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("work_id", sa.Uuid(), nullable=False),
        sa.Column("terms_id", sa.String(length=64), nullable=False),
        sa.Column("price_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("published_by", sa.Uuid(), nullable=False),
        sa.Column("published_at", services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["terms_id"], ["terms.id"], name=op.f("fk_offer_terms_id_terms")),
        sa.ForeignKeyConstraint(["work_id"], ["work.id"], name=op.f("fk_offer_work_id_work")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offer")),
    )
    op.create_index(
        "ix_offer_work_id_published_at", "offer", ["work_id", "published_at"], unique=False
    )
    op.create_table(
        "work_share",
        sa.Column("work_id", sa.Uuid(), nullable=False),
        sa.Column("creator_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("basis_points", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["creator_id"], ["creator.id"], name=op.f("fk_work_share_creator_id_creator")
        ),
        sa.ForeignKeyConstraint(["work_id"], ["work.id"], name=op.f("fk_work_share_work_id_work")),
        sa.PrimaryKeyConstraint("work_id", "creator_id", name=op.f("pk_work_share")),
    )
    op.create_index(op.f("ix_work_share_creator_id"), "work_share", ["creator_id"], unique=False)
    op.create_table(
        "work_version",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("work_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("object_key", sa.String(length=1024), nullable=False),
        sa.Column(
            "upload_method", _enum("single", "multipart", name="uploadmethod"), nullable=False
        ),
        sa.Column("upload_id", sa.String(length=1024), nullable=True),
        sa.Column("part_size", sa.BigInteger(), nullable=True),
        sa.Column("part_count", sa.Integer(), nullable=True),
        sa.Column(
            "status", _enum("pending", "complete", "failed", name="versionstatus"), nullable=False
        ),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("created_at", services.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("completed_at", services.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["work_id"], ["work.id"], name=op.f("fk_work_version_work_id_work")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_version")),
        sa.UniqueConstraint("work_id", "number", name=op.f("uq_work_version_work_id_number")),
    )
    op.create_index(op.f("ix_work_version_sha256"), "work_version", ["sha256"], unique=False)

    if dialect == "postgresql":
        for column, table in _POINTERS:
            op.create_foreign_key(
                op.f(f"fk_work_{column}_{table}"), "work", table, [column], ["id"]
            )
        _create_postgresql_search()
    elif dialect == "sqlite":
        _create_sqlite_search()


def _create_postgresql_search() -> None:
    # Title weighs most, then tags, then the description. A generated column stays
    # right whatever writes the row; GIN over listed works only, the set buyers search.
    op.execute(
        """
        ALTER TABLE work ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
            setweight(to_tsvector('english'::regconfig, title), 'A')
            || setweight(jsonb_to_tsvector('english'::regconfig, tags, '["string"]'), 'B')
            || setweight(to_tsvector('english'::regconfig, description), 'C')
        ) STORED
        """
    )
    op.execute(
        "CREATE INDEX ix_work_listed_search_vector ON work USING gin (search_vector) WHERE listed"
    )
    op.execute(
        "CREATE INDEX ix_work_listed_tags ON work USING gin (tags jsonb_path_ops) WHERE listed"
    )


def _create_sqlite_search() -> None:
    # Porter stemming matches PostgreSQL's 'english' configuration closely enough that a
    # query finds the same works on both. Triggers keep the index in step with `work`.
    op.execute(
        """
        CREATE VIRTUAL TABLE work_fts USING fts5(
            work_id UNINDEXED, title, tags, description,
            tokenize = 'porter unicode61 remove_diacritics 2'
        )
        """
    )
    op.execute(
        """
        CREATE TRIGGER work_fts_after_insert AFTER INSERT ON work BEGIN
            INSERT INTO work_fts (work_id, title, tags, description)
            VALUES (new.id, new.title, new.tags, new.description);
        END
        """
    )
    op.execute(
        """
        CREATE TRIGGER work_fts_after_update AFTER UPDATE OF title, tags, description ON work
        BEGIN
            DELETE FROM work_fts WHERE work_id = new.id;
            INSERT INTO work_fts (work_id, title, tags, description)
            VALUES (new.id, new.title, new.tags, new.description);
        END
        """
    )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for column, table in _POINTERS:
            op.drop_constraint(op.f(f"fk_work_{column}_{table}"), "work", type_="foreignkey")
    elif dialect == "sqlite":
        op.execute("DROP TRIGGER work_fts_after_update")
        op.execute("DROP TRIGGER work_fts_after_insert")
        op.execute("DROP TABLE work_fts")
    for table in ("work_version", "work_share", "offer", "consent", "work", "terms", "creator"):
        op.drop_table(table)
