"""Review of works held as possible copies: the admins' queue, and each decision's event."""

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import Field

from services.contracts.catalogue._base import MAX_PAGE_SIZE, Schema
from services.contracts.catalogue._work import WorkRead


class DuplicateKind(StrEnum):
    """How a held work resembles another creator's."""

    EXACT = "exact"
    """The same bytes (sha256)."""
    IMAGE = "image"
    """Perceptual hashes within a few bits: resized, re-encoded, cropped or recoloured."""
    TEXT = "text"
    """Most of the same three-word shingles (MinHash)."""


class DuplicateMatchRead(Schema):
    work_id: UUID = Field(description="The other creator's work it resembles")
    kind: DuplicateKind
    score: float = Field(description="1.0 for the same content, lower the less alike")


class ReviewItem(Schema):
    work: WorkRead
    reason: str = Field(description="Why it is held, in the words its creator reads")
    matches: list[DuplicateMatchRead] = Field(description="Best first")


class ReviewPage(Schema):
    items: list[ReviewItem]
    next_cursor: str | None


class ReviewQuery(Schema):
    """Query parameters of `GET /v1/reviews`."""

    first: int = Field(default=20, ge=1, le=MAX_PAGE_SIZE)
    after: str | None = None


class WorkReviewed(Schema):
    """An admin's decision on a held work: an entry in the work's chain."""

    work_id: UUID
    reviewed_by: UUID
    reviewed_at: datetime
    accepted: bool
    note: str
