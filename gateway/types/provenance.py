"""What `traceFile` answers: the licence a file was delivered under, or why none is named."""

import uuid
from enum import Enum
from typing import Annotated

import strawberry

from gateway.types.errors import Forbidden, NotFound, Refusals, ValidationFailed
from services.contracts import delivery as contract


@strawberry.enum(description="What a file handed in proves.")
class FileProvenance(Enum):
    TRACED = "traced"
    NO_PROVENANCE = "no_provenance"
    SIGNATURE_FAILS = "signature_fails"
    NOT_ASSENT = "not_assent"


@strawberry.type(
    description="TRACED names the licence (from the file's C2PA manifest, its signature "
    "verified, or from its sha256 being a delivered copy's); NO_PROVENANCE: the manifest "
    "is missing (stripped, re-encoded, or a format that carries none); SIGNATURE_FAILS: a "
    "manifest whose signature or hash of the file fails; NOT_ASSENT: a manifest signed by "
    "someone else."
)
class FileTrace:
    status: FileProvenance
    matched_by: str | None = strawberry.field(description="manifest or sha256")
    licence_id: strawberry.ID | None
    delivery_id: strawberry.ID | None
    buyer_id: strawberry.ID | None
    buyer_name: str | None
    work_id: strawberry.ID | None
    file_name: str | None
    sha256: str = strawberry.field(description="sha256 of the file handed in")
    detail: str
    evidence: list[str]

    @classmethod
    def of(cls, result: contract.FileTraceResult) -> "FileTrace":
        def opt(value: uuid.UUID | None) -> strawberry.ID | None:
            return strawberry.ID(str(value)) if value else None

        return cls(
            status=FileProvenance(result.status.value),
            matched_by=result.matched_by,
            licence_id=opt(result.licence_id),
            delivery_id=opt(result.delivery_id),
            buyer_id=opt(result.buyer_id),
            buyer_name=result.buyer_name,
            work_id=opt(result.work_id),
            file_name=result.file_name,
            sha256=result.sha256,
            detail=result.detail,
            evidence=result.evidence,
        )


TraceFileResult = Annotated[
    FileTrace | ValidationFailed | Forbidden | NotFound | Refusals,
    strawberry.union("TraceFileResult"),
]
