"""Bundles, quotes, purchases, licences and the double-entry ledger.

Quotes, licences' sold terms and ledger postings are never rewritten: a quote is a price
lock, a licence line is what was sold, and a refund is a new transaction that reverses
postings rather than an edit of old ones. Only statuses and running totals change.
"""

import enum
import uuid
from dataclasses import dataclass
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
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from services.contracts.catalogue import MediaType
from services.contracts.licensing import (
    BundleSource,
    LedgerAccountKind,
    LicenceLineStatus,
    LicenceStatus,
    TransactionKind,
)
from services.kit.db import UTCDateTime, new_metadata

EnumT = TypeVar("EnumT", bound=enum.Enum)


def enum_column(kind: type[EnumT]) -> Enum:
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


class Bundle(Base):
    """A buyer's selection of works for a set of uses; a search is resolved when saved."""

    __tablename__ = "bundle"
    __table_args__ = (Index("ix_bundle_buyer_id_created_at", "buyer_id", "created_at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    buyer_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(String(200))
    uses: Mapped[list[str]] = mapped_column(JSON)
    currency: Mapped[str] = mapped_column(String(3))
    source: Mapped[BundleSource] = mapped_column(enum_column(BundleSource))
    search: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    work_ids: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Quote(Base):
    """A priced bundle, immutable once issued; its lines are `QuoteLine` documents."""

    __tablename__ = "quote"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    bundle_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bundle.id"), index=True)
    buyer_id: Mapped[uuid.UUID]
    currency: Mapped[str] = mapped_column(String(3))
    uses: Mapped[list[str]] = mapped_column(JSON)
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    excluded: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    subtotal_minor: Mapped[int] = mapped_column(BigInteger)
    platform_fee_minor: Mapped[int] = mapped_column(BigInteger)
    total_minor: Mapped[int] = mapped_column(BigInteger)
    platform_fee_bps: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set by the purchase that bought it; the licence points back with a unique key.
    purchased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Purchase(Base):
    """An idempotency key: the first request under a key buys, every later one replays."""

    __tablename__ = "purchase"

    buyer_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    quote_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("quote.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Licence(Base):
    __tablename__ = "licence"
    __table_args__ = (
        Index("ix_licence_buyer_id_granted_at", "buyer_id", "granted_at", "id"),
        Index("ix_licence_granted_at", "granted_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    buyer_id: Mapped[uuid.UUID]
    buyer_name: Mapped[str] = mapped_column(String(200))
    bundle_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("bundle.id"))
    # One licence per quote: a second purchase of a quote fails here even if a bug let it by.
    quote_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("quote.id"), unique=True)
    uses: Mapped[list[str]] = mapped_column(JSON)
    currency: Mapped[str] = mapped_column(String(3))
    total_minor: Mapped[int] = mapped_column(BigInteger)
    platform_fee_minor: Mapped[int] = mapped_column(BigInteger)
    refunded_minor: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[LicenceStatus] = mapped_column(enum_column(LicenceStatus))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    refunded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refunded_by: Mapped[uuid.UUID | None]
    refund_reason: Mapped[str | None] = mapped_column(Text)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[uuid.UUID | None]
    revocation_reason: Mapped[str | None] = mapped_column(Text)

    lines: Mapped[list["LicenceLine"]] = relationship(lazy="raise", order_by="LicenceLine.position")


class LicenceLine(Base):
    """One work as sold: the file version, terms and price the quote locked."""

    __tablename__ = "licence_line"
    # Every licence still running of a work, for exclusivity (licence/exclusivity.py): all
    # of them where an exclusive offer is sold, the open exclusive windows on every sale.
    __table_args__ = (
        Index("ix_licence_line_work_id", "work_id", "ends_at"),
        Index(
            "ix_licence_line_exclusive_window",
            "work_id",
            "exclusive_until",
            postgresql_where=text("exclusive_until IS NOT NULL"),
            sqlite_where=text("exclusive_until IS NOT NULL"),
        ),
    )

    licence_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("licence.id"), primary_key=True)
    work_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    position: Mapped[int]
    version_id: Mapped[uuid.UUID]
    title: Mapped[str] = mapped_column(String(300))
    media_type: Mapped[MediaType] = mapped_column(enum_column(MediaType))
    file_name: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    attribution: Mapped[str] = mapped_column(Text)
    terms_id: Mapped[str] = mapped_column(String(64))
    terms: Mapped[dict[str, Any]] = mapped_column(JSON)
    price_minor: Mapped[int] = mapped_column(BigInteger)
    platform_fee_minor: Mapped[int] = mapped_column(BigInteger)
    # The co-creators' shares as quoted (`ShareLine` documents), for their statements.
    shares: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # When the line's exclusive window closes; None for a line sold without one.
    exclusive_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[LicenceLineStatus] = mapped_column(enum_column(LicenceLineStatus))
    excluded_reason: Mapped[str | None] = mapped_column(String(200))


LEDGER_NAMESPACE = uuid.UUID("7d3c2a4e-4f0b-5c55-9a53-1c0d8f6b2e11")


@dataclass(frozen=True)
class AccountKey:
    """What names a ledger account; its row's id is derived from it, so a posting needs
    no lookup to find its account."""

    kind: LedgerAccountKind
    owner_id: uuid.UUID | None
    currency: str

    @property
    def id(self) -> uuid.UUID:
        return uuid.uuid5(LEDGER_NAMESPACE, f"{self.kind}:{self.owner_id or ''}:{self.currency}")


class LedgerAccount(Base):
    """An account keyed by (kind, owner, currency); its id is derived from that key.

    Only a buyer's balance is stored (`balance_minor`), because a purchase must lock it
    to check it. Every other balance is the sum of the account's postings: a platform
    revenue row updated by every sale would serialise all purchases on one row.
    """

    __tablename__ = "ledger_account"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kind: Mapped[LedgerAccountKind] = mapped_column(enum_column(LedgerAccountKind))
    owner_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    currency: Mapped[str] = mapped_column(String(3))
    balance_minor: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    @property
    def key(self) -> AccountKey:
        return AccountKey(self.kind, self.owner_id, self.currency)


class LedgerTransaction(Base):
    __tablename__ = "ledger_transaction"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kind: Mapped[TransactionKind] = mapped_column(enum_column(TransactionKind))
    currency: Mapped[str] = mapped_column(String(3))
    licence_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("licence.id"), index=True)
    reference: Mapped[str | None] = mapped_column(String(200))
    # What the transaction may happen only once for (a licence's sale, its refund, one
    # line's refund): a second one fails on this unique key, whatever the code above did.
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    recorded_by: Mapped[uuid.UUID]
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)

    postings: Mapped[list["LedgerPosting"]] = relationship(
        lazy="raise", order_by="LedgerPosting.id"
    )


class LedgerPosting(Base):
    """A signed amount on one account; a transaction's postings sum to zero."""

    __tablename__ = "ledger_posting"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    transaction_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ledger_transaction.id"), index=True
    )
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_account.id"), index=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    work_id: Mapped[uuid.UUID | None]

    account: Mapped[LedgerAccount] = relationship(lazy="raise")


class Account(Base):
    """An account of the platform as licensing has heard of it (`account.registered`,
    `account.role_granted`): whom money may be credited to."""

    __tablename__ = "account"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    roles: Mapped[list[str]] = mapped_column(JSON)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LedgerReference(Base):
    """A payment's own reference, recorded once per kind (a top-up, a payout) with what it
    moved: a retry under the same reference answers its transaction instead of moving
    money again, and a different payment under it is refused.

    Claimed before its transaction is written (racers wait on the key), so the foreign
    key is checked at commit."""

    __tablename__ = "ledger_reference"

    kind: Mapped[TransactionKind] = mapped_column(enum_column(TransactionKind), primary_key=True)
    reference: Mapped[str] = mapped_column(String(200), primary_key=True)
    owner_id: Mapped[uuid.UUID]
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    transaction_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ledger_transaction.id", deferrable=True, initially="DEFERRED"), unique=True
    )


class SaleScope(Base):
    """Which uses of a work licensing may sell from now on, after the catalogue's newest
    consent or withdrawal event about it. A work with no row is sold as its quote says
    (the quote read the catalogue); a withdrawn work is never for sale again."""

    __tablename__ = "sale_scope"

    work_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    open_uses: Mapped[list[str]] = mapped_column(JSON)
    withdrawn: Mapped[bool]
    cause_event_id: Mapped[uuid.UUID]
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
