"""Licences as delivery knows them (the entitlement), deliveries, their entries and
downloads.

A licence arrives whole in `licence.granted` and changes only when it is refunded. Each
licence has one delivery; its entries are the manifest's, in manifest order, and are
also the fingerprint index that traces a leaked manifest back to it.
"""

import enum
import uuid
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Enum,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from services.contracts.catalogue import MediaType
from services.contracts.delivery import DeliveryStatus
from services.contracts.licensing import LicenceStatus
from services.kit.db import UTCDateTime, new_metadata

EnumT = TypeVar("EnumT", bound=enum.Enum)

FINGERPRINT_HEX = 32
ORDER_KEY_HEX = 64


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


def table_of(model: type[Base]) -> Table:
    """A model's table, for bulk inserts that skip the ORM's per-row machinery."""
    return cast(Table, model.__table__)


class Licence(Base):
    __tablename__ = "licence"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    buyer_id: Mapped[uuid.UUID]
    buyer_name: Mapped[str] = mapped_column(String(200))
    bundle_id: Mapped[uuid.UUID]
    uses: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[LicenceStatus] = mapped_column(_enum(LicenceStatus))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    refunded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # When its buyer's webhooks were told some of its lines end soon.
    expiring_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LicenceLine(Base):
    """One licensed file in force at the grant: the version sold, whatever the work has
    become since."""

    __tablename__ = "licence_line"
    __table_args__ = (
        # The build reads a licence's lines in manifest order straight off this index.
        UniqueConstraint("licence_id", "order_key"),
    )

    licence_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("licence.id"), primary_key=True)
    work_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    version_id: Mapped[uuid.UUID]
    file_name: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    media_type: Mapped[MediaType] = mapped_column(_enum(MediaType))
    attribution: Mapped[str] = mapped_column(Text)
    terms_id: Mapped[str] = mapped_column(String(64))
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # The keyed position of this work in the licence's manifest (see manifest.Watermark).
    order_key: Mapped[str] = mapped_column(String(ORDER_KEY_HEX))


class Delivery(Base):
    __tablename__ = "delivery"
    __table_args__ = (
        # What the builder polls: only deliveries still building, so it stays tiny.
        Index(
            "ix_delivery_building",
            "next_attempt_at",
            postgresql_where=text("status = 'building'"),
            sqlite_where=text("status = 'building'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    licence_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("licence.id"), unique=True)
    buyer_id: Mapped[uuid.UUID]
    status: Mapped[DeliveryStatus] = mapped_column(_enum(DeliveryStatus))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    key_id: Mapped[str | None] = mapped_column(String(64))
    manifest_key: Mapped[str | None] = mapped_column(String(1024))
    manifest_sha256: Mapped[str | None] = mapped_column(String(64))
    entry_count: Mapped[int] = mapped_column(default=0)
    excluded: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    watermark_commitment: Mapped[str | None] = mapped_column(String(64))
    # Build retries: a failed build (the object store unavailable) waits, then runs again.
    attempts: Mapped[int] = mapped_column(default=0)
    # While a builder holds the delivery, when its lease runs out; otherwise when it is due.
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The builder's lease: only the build that holds it may issue the delivery.
    lease_id: Mapped[uuid.UUID | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    # The W3C traceparent of the purchase whose grant queued the build, as licensing's
    # relay sent it with the event: a traced purchase's build is traced in its trace, and
    # an untraced one's is not, whichever grants it was relayed with.
    trace_parent: Mapped[str | None] = mapped_column(String(128))

    licence: Mapped[Licence] = relationship(lazy="raise")


class DeliveryEntry(Base):
    """One file of an issued delivery, keyed by its watermark fingerprint."""

    __tablename__ = "delivery_entry"
    __table_args__ = (
        UniqueConstraint("delivery_id", "position"),
        ForeignKeyConstraint(
            ["licence_id", "work_id"], ["licence_line.licence_id", "licence_line.work_id"]
        ),
    )

    fingerprint: Mapped[str] = mapped_column(String(FINGERPRINT_HEX), primary_key=True)
    delivery_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("delivery.id"))
    position: Mapped[int]
    licence_id: Mapped[uuid.UUID]
    work_id: Mapped[uuid.UUID]
    # The buyer's own copy, with a C2PA manifest naming the licence embedded (see
    # services/delivery/provenance); all three null: the file is delivered as uploaded.
    delivered_key: Mapped[str | None] = mapped_column(String(1024))
    delivered_size: Mapped[int | None] = mapped_column(BigInteger)
    # Indexed: a file handed in to be traced is looked up by its sha256.
    delivered_sha256: Mapped[str | None] = mapped_column(String(64), index=True)

    line: Mapped[LicenceLine] = relationship(lazy="raise")
    delivery: Mapped[Delivery] = relationship(lazy="raise")

    @property
    def size(self) -> int:
        """The size of the bytes the buyer downloads."""
        return self.line.size if self.delivered_size is None else self.delivered_size

    @property
    def sha256(self) -> str:
        """The sha256 of the bytes the buyer downloads."""
        return self.delivered_sha256 or self.line.sha256


class Download(Base):
    """A download link handed out after the entitlement check: the audit trail of access."""

    __tablename__ = "download"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    delivery_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("delivery.id"))
    fingerprint: Mapped[str] = mapped_column(ForeignKey("delivery_entry.fingerprint"))
    buyer_id: Mapped[uuid.UUID]
    downloaded_at: Mapped[datetime] = mapped_column(UTCDateTime)
