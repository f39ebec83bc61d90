"""The catalogue's search: its query parameters and pages of works."""

from enum import StrEnum
from uuid import UUID

from pydantic import Field

from services.contracts.catalogue._base import MAX_PAGE_SIZE, MediaType, Schema, Tag, Use
from services.contracts.catalogue._work import WorkRead
from services.contracts.text import NulFreeStr


class SearchSort(StrEnum):
    RELEVANCE = "relevance"
    NEWEST = "newest"
    PRICE_ASC = "price_asc"
    PRICE_DESC = "price_desc"


class WorkPage(Schema):
    items: list[WorkRead]
    next_cursor: str | None


class WorkSearch(Schema):
    """Query parameters of `GET /v1/works/search`."""

    query: str | None = Field(default=None, max_length=500)
    media_types: list[MediaType] = Field(default_factory=list)
    uses: list[Use] = Field(default_factory=list, description="every one must be offered")
    max_price_minor: int | None = Field(default=None, ge=0)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    creator_id: UUID | None = None
    language: NulFreeStr | None = Field(default=None, max_length=35)
    tags: list[Tag] = Field(default_factory=list, description="every one must be present")
    mine: bool = Field(default=False, description="creators: their own works in every state")
    sort: SearchSort | None = Field(
        default=None, description="default: relevance with a query, newest without"
    )
    first: int = Field(default=20, ge=1, le=MAX_PAGE_SIZE)
    after: str | None = None
