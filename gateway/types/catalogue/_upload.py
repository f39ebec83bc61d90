"""Uploads: a new work or version, where to send its file (whole or in parts), and the
check that completes it."""

from datetime import datetime
from typing import Annotated

import strawberry

from gateway.types.catalogue._work import MediaType, Work
from gateway.types.errors import Conflict, Forbidden, NotFound, Refusals, ValidationFailed
from gateway.types.scalars import BigInt
from services.contracts import catalogue as contract

UploadMethod = contract.UploadMethod
strawberry.enum(UploadMethod)


@strawberry.type
class HttpHeader:
    name: str
    value: str


def _headers(headers: dict[str, str]) -> list[HttpHeader]:
    return [HttpHeader(name=name, value=value) for name, value in sorted(headers.items())]


@strawberry.type
class PresignedUpload:
    url: str
    headers: list[HttpHeader] = strawberry.field(description="Send these with the PUT.")
    expires_at: datetime


@strawberry.type
class PresignedPart:
    part_number: int
    url: str
    headers: list[HttpHeader]
    expires_at: datetime

    @classmethod
    def of(cls, part: contract.PresignedPart) -> "PresignedPart":
        return cls(
            part_number=part.part_number,
            url=part.url,
            headers=_headers(part.headers),
            expires_at=part.expires_at,
        )


@strawberry.type
class UploadedPart:
    part_number: int
    size: BigInt
    sha256: str | None


@strawberry.type
class UploadTarget:
    work_id: strawberry.ID
    version_id: strawberry.ID
    method: UploadMethod
    put: PresignedUpload | None = strawberry.field(description="single: PUT the file here.")
    part_size: BigInt | None
    part_count: int | None
    uploaded_parts: list[UploadedPart] = strawberry.field(
        description="multipart: parts already stored; upload only the others to resume."
    )

    @classmethod
    def of(cls, target: contract.UploadTarget) -> "UploadTarget":
        put = target.put
        return cls(
            work_id=strawberry.ID(str(target.work_id)),
            version_id=strawberry.ID(str(target.version_id)),
            method=target.method,
            put=PresignedUpload(
                url=put.url, headers=_headers(put.headers), expires_at=put.expires_at
            )
            if put
            else None,
            part_size=BigInt(target.part_size) if target.part_size is not None else None,
            part_count=target.part_count,
            uploaded_parts=[
                UploadedPart(part_number=p.part_number, size=BigInt(p.size), sha256=p.sha256)
                for p in target.uploaded_parts
            ],
        )


@strawberry.input
class ShareInput:
    creator_id: strawberry.ID
    basis_points: int


@strawberry.input
class FileInput:
    file_name: str
    size: BigInt
    sha256: str = strawberry.field(description="Hex sha256 of the whole file.")


@strawberry.input
class CreateWorkInput:
    title: str
    description: str = ""
    media_type: MediaType
    tags: list[str] = strawberry.field(default_factory=list)
    language: str = strawberry.field(description="BCP 47, e.g. en or pt-BR.")
    file: FileInput
    shares: list[ShareInput] = strawberry.field(
        default_factory=list,
        description="Co-creator splits summing to 10000; empty: all to you.",
    )


@strawberry.input
class PartInput:
    part_number: int
    sha256: str


@strawberry.type
class WorkCreated:
    work: Work
    upload: UploadTarget


@strawberry.type
class PartsPresigned:
    parts: list[PresignedPart]


@strawberry.type
class UploadCompleted:
    work: Work


@strawberry.type
class UploadRejected:
    work: Work
    reason: str


@strawberry.type
class VersionStarted:
    upload: UploadTarget


UploadTargetResult = Annotated[
    UploadTarget | NotFound | Conflict | Refusals, strawberry.union("UploadTargetResult")
]
CreateWorkResult = Annotated[
    WorkCreated | ValidationFailed | Forbidden | Refusals, strawberry.union("CreateWorkResult")
]
PresignPartsResult = Annotated[
    PartsPresigned | ValidationFailed | NotFound | Conflict | Refusals,
    strawberry.union("PresignPartsResult"),
]
CompleteUploadResult = Annotated[
    UploadCompleted | UploadRejected | ValidationFailed | NotFound | Conflict | Refusals,
    strawberry.union("CompleteUploadResult"),
]
ReplaceFileResult = Annotated[
    VersionStarted | ValidationFailed | NotFound | Conflict | Refusals,
    strawberry.union("ReplaceFileResult"),
]
