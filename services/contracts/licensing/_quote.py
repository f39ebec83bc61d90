"""Quotes: a bundle priced line by line, the price locked until the quote expires."""

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import Field

from services.contracts.catalogue import MediaType, Terms, Use
from services.contracts.licensing._base import Schema


class ExclusionReason(StrEnum):
    NOT_FOUND = "not_found"
    WITHDRAWN = "withdrawn"
    NO_CONSENT = "no_consent"
    """No consent in force, or the consent does not cover the bundle's uses."""
    NOT_LISTED = "not_listed"
    """Not offered right now: no verified file yet, or held for review."""
    NO_OFFER = "no_offer"
    USES_NOT_OFFERED = "uses_not_offered"
    CURRENCY = "currency"
    """Offered in another currency than the bundle's."""
    EXCLUSIVE = "exclusive"
    """Another buyer's exclusive licence covers these uses and territory, or the offer is
    exclusive and another buyer's licence still covers them."""


class ShareLine(Schema):
    creator_id: UUID
    creator_name: str
    basis_points: int


class QuoteLine(Schema):
    work_id: UUID
    version_id: UUID
    title: str
    media_type: MediaType
    file_name: str
    size: int
    sha256: str
    offer_id: UUID
    terms_id: str
    terms: Terms
    price_minor: int
    platform_fee_minor: int
    shares: list[ShareLine]


class QuoteExclusion(Schema):
    work_id: UUID
    reason: ExclusionReason
    detail: str


class QuoteStatus(StrEnum):
    OPEN = "open"
    PURCHASED = "purchased"
    EXPIRED = "expired"


class QuoteIn(Schema):
    bundle_id: UUID


class QuoteRead(Schema):
    """Never changes once issued: later price changes make new offers, not new quotes."""

    id: UUID
    bundle_id: UUID
    buyer_id: UUID
    currency: str
    uses: list[Use]
    lines: list[QuoteLine]
    excluded: list[QuoteExclusion]
    subtotal_minor: int
    platform_fee_minor: int
    total_minor: int = Field(description="what the buyer pays (the fee is inside it)")
    platform_fee_bps: int
    status: QuoteStatus
    created_at: datetime
    expires_at: datetime
