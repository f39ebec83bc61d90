"""A work's descriptive details, changed by its owner; each change is kept as a version
with who made it and when."""

from datetime import datetime
from uuid import UUID

from pydantic import Field, model_validator

from services.contracts.catalogue._base import MediaType, Schema, Tag
from services.contracts.text import NulFreeStr


class WorkUpdate(Schema):
    """The fields to change; a field left out (None) stays as it is."""

    title: NulFreeStr | None = Field(default=None, min_length=1, max_length=300)
    description: NulFreeStr | None = Field(default=None, max_length=10_000)
    tags: list[Tag] | None = Field(default=None, max_length=30)
    media_type: MediaType | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> "WorkUpdate":
        if all(getattr(self, name) is None for name in type(self).model_fields):
            raise ValueError("name at least one of title, description, tags or kind to change")
        return self


class MetadataVersionRead(Schema):
    """The work's details as one edit left them (number 1: as listed)."""

    number: int
    title: str
    description: str
    tags: list[str]
    media_type: MediaType
    changed: list[str] = Field(description="The fields this version changed")
    edited_by: UUID
    edited_at: datetime


class WorkHistory(Schema):
    """One work's details, version by version, oldest first."""

    work_id: UUID
    versions: list[MetadataVersionRead]
