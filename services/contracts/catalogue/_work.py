"""Works: listing one, reading it with why it is not for sale, reviewing and withdrawing it."""

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import Field

from services.contracts.catalogue._base import MediaType, Schema, Tag
from services.contracts.catalogue._consent import ConsentRead
from services.contracts.catalogue._invitation import MAX_SHARES, ShareIn, ShareRead
from services.contracts.catalogue._offer import OfferRead
from services.contracts.catalogue._upload import FileIn, UploadTarget, VersionRead
from services.contracts.text import NulFreeStr


class WorkStatus(StrEnum):
    PENDING_UPLOAD = "pending_upload"
    """No version of the file has been verified yet."""
    READY = "ready"
    WITHDRAWN = "withdrawn"


class ReviewStatus(StrEnum):
    CLEAR = "clear"
    FLAGGED = "flagged"
    """The same file, or a near copy of it, is listed by another creator; hidden from
    buyers until an admin reviews it."""


class SaleReasonCode(StrEnum):
    """Why a work is not for sale; a work for sale has none."""

    AWAITING_CO_CREATOR = "awaiting_co_creator"
    """A co-creator has not accepted their share, or holds no consent covering the offer."""
    HELD_FOR_REVIEW = "held_for_review"
    OFFER_WIDER_THAN_CONSENT = "offer_wider_than_consent"
    WITHDRAWN = "withdrawn"
    NO_OFFER = "no_offer"
    NO_FILE = "no_file"
    NO_CONSENT = "no_consent"


class CreatorRead(Schema):
    id: UUID
    name: str


ACCOUNTS_ISSUER = "gateway"
"""The process that owns the accounts, and so may confirm that one is a creator."""


class WorkCreate(FileIn):
    title: NulFreeStr = Field(min_length=1, max_length=300)
    description: NulFreeStr = Field(default="", max_length=10_000)
    media_type: MediaType
    tags: list[Tag] = Field(default_factory=list, max_length=30)
    language: str = Field(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$", max_length=35)
    shares: list[ShareIn] = Field(
        default_factory=list,
        max_length=MAX_SHARES,
        description="Co-creator splits summing to 10000 basis points; empty: all to the owner.",
    )
    confirmed_creators: list[CreatorRead] = Field(
        default_factory=list,
        max_length=MAX_SHARES,
        description="Co-creators the accounts' owner (the gateway) found to be creator "
        "accounts when it forwarded this call. The catalogue hears of new accounts through "
        "the outbox, a moment later; honoured from the gateway only.",
    )


class SaleReason(Schema):
    code: SaleReasonCode
    detail: str = Field(description="The reason in plain words")
    creator_id: UUID | None = Field(
        default=None, description="awaiting_co_creator: the co-creator who is missing"
    )
    creator_name: str | None = None


class WorkRead(Schema):
    id: UUID
    owner_id: UUID
    title: str
    description: str
    media_type: MediaType
    tags: list[str]
    language: str
    status: WorkStatus
    review_status: ReviewStatus
    listed: bool = Field(description="Offered to buyers right now")
    created_at: datetime
    withdrawn_at: datetime | None
    current_version: VersionRead | None
    pending_version: VersionRead | None
    shares: list[ShareRead]
    consent: ConsentRead | None = Field(description="The newest consent record")
    offer: OfferRead | None = Field(description="The current offer")
    sale_status: list[SaleReason] = Field(
        default_factory=list, description="Why the work is not for sale; empty when listed"
    )


class WorkCreated(Schema):
    work: WorkRead
    upload: UploadTarget


class UploadCompleted(Schema):
    work: WorkRead
    completed: bool
    reason: str | None = Field(description="Why the upload was refused (size or sha256 mismatch)")


class ReviewDecision(Schema):
    accept: bool
    note: NulFreeStr = Field(default="", max_length=2_000)


class WorkWithdrawn(Schema):
    work_id: UUID
    withdrawn_by: UUID
    withdrawn_at: datetime


class WorkVersionPublished(Schema):
    """A new file of a work became the current one (its upload completed and checked):
    future sales deliver it; licences already granted keep the version they were sold."""

    work_id: UUID
    version_id: UUID
    previous_version_id: UUID | None
    sha256: str
    size: int
    published_at: datetime
