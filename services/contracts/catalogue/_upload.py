"""A work's file versions and the uploads that bring their bytes."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, Field

from services.contracts.catalogue._base import Schema, Sha256
from services.contracts.catalogue._preview import PreviewKind
from services.contracts.text import NulFreeStr


class UploadMethod(StrEnum):
    SINGLE = "single"
    MULTIPART = "multipart"


class VersionStatus(StrEnum):
    PENDING = "pending"
    COMPLETE = "complete"
    FAILED = "failed"


MAX_FILE_SIZE = 5 * 1024**4
"""The largest file a work may have: 5 TiB, the most one S3 object holds."""


def _within_limit(size: int) -> int:
    if size > MAX_FILE_SIZE:
        raise ValueError(
            f"the file is {size / 1024**4:.1f} TiB; a work's file may be at most 5 TiB "
            "(the most one object in the store holds)"
        )
    return size


class FileIn(Schema):
    file_name: NulFreeStr = Field(min_length=1, max_length=255)
    size: Annotated[int, Field(gt=0), AfterValidator(_within_limit)]
    sha256: Sha256


class VersionRead(Schema):
    id: UUID
    number: int
    file_name: str
    size: int
    sha256: str
    status: VersionStatus
    failure_reason: str | None
    created_at: datetime
    completed_at: datetime | None
    preview_kind: PreviewKind | None = Field(
        default=None, description="Made when the upload completes; none while pending"
    )
    duration_ms: int | None = Field(default=None, description="waveform: the sound's length")
    excerpt: str | None = Field(default=None, description="excerpt: the text's opening")
    preview_note: str | None = Field(
        default=None, description="Why there is no preview, in plain words"
    )


class PresignedPut(Schema):
    url: str
    headers: dict[str, str]
    expires_at: datetime


class PresignedPart(PresignedPut):
    part_number: int


class UploadedPartRead(Schema):
    part_number: int
    size: int
    sha256: str | None


class UploadTarget(Schema):
    """Where the client sends the bytes of a pending version."""

    work_id: UUID
    version_id: UUID
    method: UploadMethod
    put: PresignedPut | None = Field(description="single: one presigned PUT")
    part_size: int | None = Field(description="multipart: every part but the last has this size")
    part_count: int | None
    uploaded_parts: list[UploadedPartRead] = Field(
        description="multipart: parts already stored, so an interrupted upload resumes"
    )


class PartIn(Schema):
    part_number: int = Field(ge=1, le=10_000)
    sha256: Sha256


class PartsIn(Schema):
    parts: list[PartIn] = Field(min_length=1, max_length=100)
