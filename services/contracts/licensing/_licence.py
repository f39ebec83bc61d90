"""Purchases, the licences they grant, and refunds."""

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import Field

from services.contracts.catalogue import MediaType, Terms, Use
from services.contracts.licensing._base import IdempotencyKey, Schema
from services.contracts.text import NulFreeStr


class PurchaseIn(Schema):
    quote_id: UUID
    idempotency_key: IdempotencyKey


class LicenceStatus(StrEnum):
    ACTIVE = "active"
    REFUNDED = "refunded"
    """Refunded by an admin: revoked, every entry reversed."""
    REVOKED = "revoked"
    """Revoked by an admin without a refund (the buyer broke its terms): its files no
    longer download and its records may no longer be used; the money stays where it is."""


class LicenceLineStatus(StrEnum):
    ACTIVE = "active"
    EXCLUDED = "excluded"
    """Not sold: its work was no longer for sale for the licence's uses when the purchase
    committed (never charged); or sold, then left out of the delivery and refunded."""
    REFUNDED = "refunded"


class LicenceLineRead(Schema):
    work_id: UUID
    version_id: UUID
    title: str
    media_type: MediaType
    file_name: str
    size: int
    sha256: str
    attribution: str = Field(description="the co-creators' names, as the licence credits them")
    terms_id: str
    terms: Terms
    price_minor: int
    starts_at: datetime
    ends_at: datetime
    status: LicenceLineStatus
    excluded_reason: str | None
    expired: bool = Field(
        default=False, description="its duration has run out: its file no longer downloads"
    )


class LicenceRead(Schema):
    id: UUID
    buyer_id: UUID
    buyer_name: str = Field(description="the buyer organisation")
    bundle_id: UUID
    quote_id: UUID
    uses: list[Use]
    currency: str
    total_minor: int
    platform_fee_minor: int
    refunded_minor: int = Field(description="refunded so far: excluded lines, or all of it")
    status: LicenceStatus
    granted_at: datetime
    starts_at: datetime
    ends_at: datetime = Field(description="the latest end of its lines")
    refunded_at: datetime | None
    revoked_at: datetime | None = None
    expired: bool = Field(
        default=False, description="every line's duration has run out: nothing downloads"
    )
    lines: list[LicenceLineRead]


class PurchaseRead(Schema):
    licence: LicenceRead
    replayed: bool = Field(description="true when this idempotency key had already bought it")


class LicencePage(Schema):
    items: list[LicenceRead]
    next_cursor: str | None


class RefundIn(Schema):
    reason: NulFreeStr = Field(min_length=1, max_length=2_000)


class RevokeIn(Schema):
    reason: NulFreeStr = Field(min_length=1, max_length=2_000)
