"""Creators, works, their file versions, consent records, terms and offers.

Consent records, versions once complete, terms and offers are never updated or deleted:
licences and the audit log point at them. The `work` row carries a denormalised listing
(`listed`, price, currency, offered uses) that the service keeps current, so a search
never joins the consent and offer history.
"""

import enum
import json
import uuid
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from services.contracts.catalogue import (
    ConsentKind,
    InvitationStatus,
    MediaType,
    PreviewKind,
    ReviewStatus,
    Terms,
    UploadMethod,
    Use,
    VersionStatus,
    WorkStatus,
)
from services.kit.db import UTCDateTime, new_metadata, utcnow

EnumT = TypeVar("EnumT", bound=enum.Enum)

# Stable bit per use for the `offer_uses` mask: "offers every one of these uses" is then
# one `mask & wanted = wanted` test on both backends. Never renumber.
USE_BITS: dict[Use, int] = {
    Use.TRAINING: 1,
    Use.FINE_TUNING: 2,
    Use.RETRIEVAL: 4,
    Use.EVALUATION: 8,
    Use.SYNTHETIC_DATA: 16,
}


def uses_mask(uses: list[Use]) -> int:
    mask = 0
    for use in uses:
        mask |= USE_BITS[use]
    return mask


def _enum(kind: type[EnumT]) -> Enum:
    # Plain VARCHAR holding the value: adding a member needs no type migration.
    return Enum(
        kind,
        native_enum=False,
        length=20,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    metadata = new_metadata()


HAND_MADE_SEARCH_OBJECTS = frozenset(
    {
        "search_vector",
        "facets",
        "ix_work_listed_search",
        "work_fts",
        "work_fts_config",
        "work_fts_content",
        "work_fts_data",
        "work_fts_docsize",
        "work_fts_idx",
    }
)
"""Search objects the migrations make by hand, one backend each (the tsvector columns and
their GIN index on PostgreSQL, the FTS5 table on SQLite): not mapped, so the ORM never
selects them, and hidden from autogenerate."""

# JSONB on PostgreSQL, which the generated search columns read the tags from.
JSON_DOCUMENT = JSON().with_variant(postgresql.JSONB(), "postgresql")


class Creator(Base):
    """The catalogue's directory of creator accounts (fed by `account.registered`)."""

    __tablename__ = "creator"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Work(Base):
    __tablename__ = "work"
    __table_args__ = (
        # Each index below serves one access path of the search; the partial ones cover
        # only what buyers can see, which keeps them small and their scans dense.
        Index("ix_work_owner_id_created_at", "owner_id", "created_at", "id"),
        Index(
            "ix_work_listed_created_at",
            "created_at",
            "id",
            postgresql_where=text("listed"),
            sqlite_where=text("listed = 1"),
        ),
        Index(
            "ix_work_listed_price_minor",
            "price_minor",
            "id",
            postgresql_where=text("listed"),
            sqlite_where=text("listed = 1"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("creator.id"))
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text)
    media_type: Mapped[MediaType] = mapped_column(_enum(MediaType))
    tags: Mapped[list[str]] = mapped_column(JSON_DOCUMENT)
    language: Mapped[str] = mapped_column(String(35))
    status: Mapped[WorkStatus] = mapped_column(_enum(WorkStatus))
    review_status: Mapped[ReviewStatus] = mapped_column(_enum(ReviewStatus))
    review_note: Mapped[str | None] = mapped_column(Text)
    reviewed_by: Mapped[uuid.UUID | None]
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_by: Mapped[uuid.UUID | None]
    # Pointers to the rows that are current now; the history stays in its own tables.
    current_version_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("work_version.id", use_alter=True)
    )
    pending_version_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("work_version.id", use_alter=True)
    )
    consent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("consent.id", use_alter=True))
    offer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("offer.id", use_alter=True))
    # The listing, recomputed by the service on every change of the work.
    listed: Mapped[bool] = mapped_column(default=False)
    price_minor: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    offer_uses: Mapped[int] = mapped_column(Integer, default=0)
    # Why the work is not listed, as `SaleReason` documents, recomputed with `listed`.
    sale_status: Mapped[list[dict[str, Any]]] = mapped_column(
        JSON, default=list, server_default="[]"
    )

    current_version: Mapped["WorkVersion | None"] = relationship(
        foreign_keys=[current_version_id], lazy="raise", post_update=True
    )
    pending_version: Mapped["WorkVersion | None"] = relationship(
        foreign_keys=[pending_version_id], lazy="raise", post_update=True
    )
    consent: Mapped["Consent | None"] = relationship(
        foreign_keys=[consent_id], lazy="raise", post_update=True
    )
    offer: Mapped["Offer | None"] = relationship(
        foreign_keys=[offer_id], lazy="raise", post_update=True
    )
    shares: Mapped[list["Share"]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="Share.position"
    )
    invitations: Mapped[list["Invitation"]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="Invitation.created_at"
    )
    # Co-creators invited by email who have no account yet: each keeps the work off sale.
    address_invitations: Mapped[list["AddressInvitation"]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="AddressInvitation.created_at"
    )
    # Every member's consent records, oldest first: each member's newest is theirs in force.
    consent_history: Mapped[list["Consent"]] = relationship(
        foreign_keys="Consent.work_id", lazy="raise", order_by="Consent.sequence", viewonly=True
    )


class Share(Base):
    """A co-creator's part of the royalties, in basis points (the shares sum to 10000)."""

    __tablename__ = "work_share"

    work_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("work.id"), primary_key=True)
    creator_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("creator.id"), primary_key=True, index=True
    )
    # The order the creator gave them in, which is also the order of attribution.
    position: Mapped[int]
    basis_points: Mapped[int]

    creator: Mapped[Creator] = relationship(lazy="raise")

    @property
    def creator_name(self) -> str:
        return self.creator.name


class Invitation(Base):
    """A co-creator's invitation to their share of a work, and their answer.

    One per co-creator of a work; a change of their share makes it pending again, so the
    share stands only once they accept it. The history is in the audit log's events."""

    __tablename__ = "invitation"
    __table_args__ = (UniqueConstraint("work_id", "creator_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    work_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("work.id"))
    creator_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("creator.id"), index=True)
    invited_by: Mapped[uuid.UUID]
    basis_points: Mapped[int]
    status: Mapped[InvitationStatus] = mapped_column(_enum(InvitationStatus))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    creator: Mapped[Creator] = relationship(lazy="raise")


class AddressInvitation(Base):
    """A co-creator invited by email who has no account yet, and their share (taken from
    the owner's until they claim it).

    The catalogue never learns the address: the gateway, which alone knows people's
    addresses, sends a keyed hash of the normalised address (`address_key`), and claims the
    invitation with the same key once an account has verified that address. Then it
    becomes an ordinary `Invitation` of that account, waiting for their answer."""

    __tablename__ = "address_invitation"
    __table_args__ = (UniqueConstraint("work_id", "address_key"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    work_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("work.id"))
    address_key: Mapped[str] = mapped_column(String(64), index=True)
    invited_by: Mapped[uuid.UUID]
    basis_points: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WorkVersion(Base):
    """One file of a work. A complete version never changes: licences point at it."""

    __tablename__ = "work_version"
    __table_args__ = (UniqueConstraint("work_id", "number"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    work_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("work.id"))
    number: Mapped[int]
    file_name: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    # Declared by the creator, verified against the stored object on completion.
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    object_key: Mapped[str] = mapped_column(String(1024))
    upload_method: Mapped[UploadMethod] = mapped_column(_enum(UploadMethod))
    upload_id: Mapped[str | None] = mapped_column(String(1024))
    part_size: Mapped[int | None] = mapped_column(BigInteger)
    part_count: Mapped[int | None]
    status: Mapped[VersionStatus] = mapped_column(_enum(VersionStatus))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What buyers see before licensing, made once the bytes are checked; the picture (a
    # thumbnail or a waveform) is its own object in the store.
    preview_kind: Mapped[PreviewKind | None] = mapped_column(_enum(PreviewKind))
    preview_key: Mapped[str | None] = mapped_column(String(1024))
    duration_ms: Mapped[int | None] = mapped_column(BigInteger)
    excerpt: Mapped[str | None] = mapped_column(Text)
    preview_note: Mapped[str | None] = mapped_column(Text)


class MetadataVersion(Base):
    """A work's title, description, tags and kind as one edit left them. Append-only;
    number 1 is the work as listed, recorded with the first edit."""

    __tablename__ = "work_metadata_version"
    __table_args__ = (UniqueConstraint("work_id", "number"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    work_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("work.id"))
    number: Mapped[int]
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSON)
    media_type: Mapped[MediaType] = mapped_column(_enum(MediaType))
    changed: Mapped[list[str]] = mapped_column(JSON)
    edited_by: Mapped[uuid.UUID]
    edited_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Consent(Base):
    """One consent record: given, revised or withdrawn. Append-only."""

    __tablename__ = "consent"
    __table_args__ = (UniqueConstraint("work_id", "sequence"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    work_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("work.id"))
    sequence: Mapped[int]
    kind: Mapped[ConsentKind] = mapped_column(_enum(ConsentKind))
    uses: Mapped[list[str]] = mapped_column(JSON)
    # A platform statement by id and version (`statements/published.py`); consents from
    # before there were any carry LEGACY_STATEMENT_ID. The words are stored once, by hash.
    statement_id: Mapped[str] = mapped_column(String(50))
    statement_version: Mapped[str] = mapped_column(String(50))
    statement_sha256: Mapped[str] = mapped_column(ForeignKey("statement_text.sha256"))
    # A `RightsAttestation`; none on a withdrawal, nor on consents from before attestations.
    attestation: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    given_by: Mapped[uuid.UUID]
    given_at: Mapped[datetime] = mapped_column(UTCDateTime)

    @property
    def in_force(self) -> bool:
        return self.kind != ConsentKind.WITHDRAWN


class TermsRecord(Base):
    """Canonical licence terms, keyed by the sha256 of their canonical JSON."""

    __tablename__ = "terms"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The exact bytes that were hashed, so anyone can recompute the id.
    canonical_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def body(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.canonical_json)
        return loaded


class Offer(Base):
    """A price for a work under some terms. Append-only: a new offer supersedes the last."""

    __tablename__ = "offer"
    __table_args__ = (Index("ix_offer_work_id_published_at", "work_id", "published_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    work_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("work.id"))
    terms_id: Mapped[str] = mapped_column(ForeignKey("terms.id"))
    price_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    published_by: Mapped[uuid.UUID]
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)

    terms_record: Mapped[TermsRecord] = relationship(lazy="raise")

    @property
    def terms(self) -> Terms:
        return Terms.model_validate(self.terms_record.body)
