"""Bundles: the works a buyer means to license, named or found by a search."""

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import Field, model_validator

from services.contracts.catalogue import Use, WorkSearch
from services.contracts.licensing._base import MAX_BUNDLE_WORKS, Currency, Schema
from services.contracts.text import NulFreeStr


class BundleCreate(Schema):
    """Exactly one of `work_ids` or `search`; a search is resolved into works at creation."""

    name: NulFreeStr = Field(min_length=1, max_length=200)
    uses: list[Use] = Field(min_length=1, description="what the buyer will do with the works")
    currency: Currency = "EUR"
    work_ids: list[UUID] | None = Field(default=None, min_length=1, max_length=MAX_BUNDLE_WORKS)
    search: WorkSearch | None = None

    @model_validator(mode="after")
    def _one_source(self) -> "BundleCreate":
        if (self.work_ids is None) == (self.search is None):
            raise ValueError("give either work_ids or search, not both or neither")
        return self


class BundleSource(StrEnum):
    WORKS = "works"
    SEARCH = "search"


class BundleRead(Schema):
    id: UUID
    buyer_id: UUID
    name: str
    uses: list[Use]
    currency: str
    source: BundleSource
    search: WorkSearch | None = Field(description="the saved search, when made from one")
    work_ids: list[UUID]
    created_at: datetime


class BundlePage(Schema):
    items: list[BundleRead]
    next_cursor: str | None
