"""The catalogue's GraphQL types: works, their files, consent, offers and terms."""

import uuid
from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from gateway.context import Context
from gateway.types.errors import (
    Conflict,
    ConsentRequired,
    Forbidden,
    NotFound,
    ServiceUnavailable,
    Unauthenticated,
    ValidationFailed,
)
from gateway.types.scalars import BigInt
from services.contracts import catalogue as contract

# The contracts' enums become GraphQL enums as they are (strawberry.enum marks the class).
MediaType = contract.MediaType
Use = contract.Use
WorkStatus = contract.WorkStatus
ReviewStatus = contract.ReviewStatus
ConsentKind = contract.ConsentKind
UploadMethod = contract.UploadMethod
VersionStatus = contract.VersionStatus
SearchSort = contract.SearchSort
for _enum in (
    MediaType,
    WorkStatus,
    ReviewStatus,
    ConsentKind,
    UploadMethod,
    VersionStatus,
    SearchSort,
):
    strawberry.enum(_enum)
strawberry.enum(Use, description="What a licensee may do with a work.")


@strawberry.type
class Money:
    amount_minor: BigInt = strawberry.field(description="Integer minor units (cents).")
    currency: str


@strawberry.type
class Terms:
    uses: list[Use]
    commercial_use: bool
    attribution_required: bool
    territory: list[str] = strawberry.field(description="ISO 3166 codes, or WORLD.")
    duration_days: int
    exclusivity_days: int
    max_models: int | None

    @classmethod
    def of(cls, terms: contract.Terms) -> "Terms":
        return cls(
            uses=list(terms.uses),
            commercial_use=terms.commercial_use,
            attribution_required=terms.attribution_required,
            territory=list(terms.territory),
            duration_days=terms.duration_days,
            exclusivity_days=terms.exclusivity_days,
            max_models=terms.max_models,
        )


@strawberry.type
class Offer:
    id: strawberry.ID
    price: Money
    terms_id: str = strawberry.field(description="sha256 of the canonical terms.")
    terms: Terms
    published_at: datetime

    @classmethod
    def of(cls, offer: contract.OfferRead) -> "Offer":
        return cls(
            id=strawberry.ID(str(offer.id)),
            price=Money(amount_minor=BigInt(offer.price_minor), currency=offer.currency),
            terms_id=offer.terms_id,
            terms=Terms.of(offer.terms),
            published_at=offer.published_at,
        )


@strawberry.type
class Consent:
    id: strawberry.ID
    sequence: int
    kind: ConsentKind
    uses: list[Use]
    statement_text: str
    statement_version: str
    given_by: strawberry.ID
    given_at: datetime

    @classmethod
    def of(cls, consent: contract.ConsentRead) -> "Consent":
        return cls(
            id=strawberry.ID(str(consent.id)),
            sequence=consent.sequence,
            kind=consent.kind,
            uses=list(consent.uses),
            statement_text=consent.statement_text,
            statement_version=consent.statement_version,
            given_by=strawberry.ID(str(consent.given_by)),
            given_at=consent.given_at,
        )


@strawberry.type
class WorkVersion:
    id: strawberry.ID
    number: int
    file_name: str
    size: BigInt
    sha256: str
    status: VersionStatus
    failure_reason: str | None
    created_at: datetime
    completed_at: datetime | None

    @classmethod
    def of(cls, version: contract.VersionRead | None) -> "WorkVersion | None":
        if version is None:
            return None
        return cls(
            id=strawberry.ID(str(version.id)),
            number=version.number,
            file_name=version.file_name,
            size=BigInt(version.size),
            sha256=version.sha256,
            status=version.status,
            failure_reason=version.failure_reason,
            created_at=version.created_at,
            completed_at=version.completed_at,
        )


@strawberry.type
class Creator:
    id: strawberry.ID
    name: str


@strawberry.type
class Share:
    creator: Creator
    basis_points: int = strawberry.field(description="Out of 10000.")


@strawberry.type
class Work:
    id: strawberry.ID
    title: str
    description: str
    media_type: MediaType
    tags: list[str]
    language: str
    status: WorkStatus
    review_status: ReviewStatus
    listed: bool = strawberry.field(description="Offered to buyers right now.")
    created_at: datetime
    withdrawn_at: datetime | None
    current_version: WorkVersion | None
    pending_version: WorkVersion | None
    shares: list[Share]
    consent: Consent | None = strawberry.field(description="The newest consent record.")
    offer: Offer | None
    owner_id: strawberry.Private[uuid.UUID]

    @classmethod
    def of(cls, work: contract.WorkRead) -> "Work":
        return cls(
            id=strawberry.ID(str(work.id)),
            title=work.title,
            description=work.description,
            media_type=work.media_type,
            tags=list(work.tags),
            language=work.language,
            status=work.status,
            review_status=work.review_status,
            listed=work.listed,
            created_at=work.created_at,
            withdrawn_at=work.withdrawn_at,
            current_version=WorkVersion.of(work.current_version),
            pending_version=WorkVersion.of(work.pending_version),
            shares=[
                Share(
                    creator=Creator(
                        id=strawberry.ID(str(share.creator_id)), name=share.creator_name
                    ),
                    basis_points=share.basis_points,
                )
                for share in work.shares
            ],
            consent=Consent.of(work.consent) if work.consent else None,
            offer=Offer.of(work.offer) if work.offer else None,
            owner_id=work.owner_id,
        )

    @strawberry.field
    async def owner(self, info: Info[Context, None]) -> Creator | None:
        creator = await info.context.loaders.creators.load(self.owner_id)
        return Creator(id=strawberry.ID(str(creator.id)), name=creator.name) if creator else None

    @strawberry.field(
        description="The terms as W3C TDMRep, ODRL (JSON-LD) and C2PA training-and-mining "
        "values, for the creator to publish on their own site."
    )
    async def signals(self, info: Info[Context, None]) -> JSON:
        signals = await info.context.catalogue.signals(
            info.context.principal, uuid.UUID(str(self.id))
        )
        return JSON(signals.model_dump(mode="json"))


@strawberry.type
class WorkConnection:
    items: list[Work]
    next_cursor: str | None


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


# --- inputs ---


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


@strawberry.input
class ConsentInput:
    uses: list[Use]
    statement_text: str = strawberry.field(description="The words the creator agreed to.")
    statement_version: str


@strawberry.input
class TermsInput:
    uses: list[Use]
    commercial_use: bool
    attribution_required: bool
    territory: list[str] = strawberry.field(default_factory=lambda: ["WORLD"])
    duration_days: int
    exclusivity_days: int = 0
    max_models: int | None = None


@strawberry.input
class OfferInput:
    price_minor: BigInt
    currency: str
    terms: TermsInput


@strawberry.input
class WorkFilter:
    query: str | None = strawberry.field(
        default=None, description="Words in title, description, tags."
    )
    media_types: list[MediaType] = strawberry.field(default_factory=list)
    uses: list[Use] = strawberry.field(default_factory=list, description="All must be offered.")
    max_price_minor: BigInt | None = None
    currency: str | None = None
    creator_id: strawberry.ID | None = None
    language: str | None = None
    tags: list[str] = strawberry.field(default_factory=list, description="All must be present.")
    mine: bool = strawberry.field(default=False, description="Creators: your works in every state.")


# --- payloads ---


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


@strawberry.type
class ConsentRecorded:
    consent: Consent


@strawberry.type
class OfferSet:
    offer: Offer


@strawberry.type
class WorkWithdrawn:
    work: Work


@strawberry.type
class WorkReviewed:
    work: Work


_Refusals = Unauthenticated | ServiceUnavailable

WorkResult = Annotated[Work | NotFound | _Refusals, strawberry.union("WorkResult")]
WorksResult = Annotated[
    WorkConnection | ValidationFailed | _Refusals, strawberry.union("WorksResult")
]
UploadTargetResult = Annotated[
    UploadTarget | NotFound | Conflict | _Refusals, strawberry.union("UploadTargetResult")
]
CreateWorkResult = Annotated[
    WorkCreated | ValidationFailed | Forbidden | _Refusals, strawberry.union("CreateWorkResult")
]
PresignPartsResult = Annotated[
    PartsPresigned | ValidationFailed | NotFound | Conflict | _Refusals,
    strawberry.union("PresignPartsResult"),
]
CompleteUploadResult = Annotated[
    UploadCompleted | UploadRejected | NotFound | Conflict | _Refusals,
    strawberry.union("CompleteUploadResult"),
]
ReplaceFileResult = Annotated[
    VersionStarted | ValidationFailed | NotFound | Conflict | _Refusals,
    strawberry.union("ReplaceFileResult"),
]
ConsentResult = Annotated[
    ConsentRecorded | ValidationFailed | NotFound | Conflict | _Refusals,
    strawberry.union("ConsentResult"),
]
SetOfferResult = Annotated[
    OfferSet | ConsentRequired | ValidationFailed | NotFound | Conflict | _Refusals,
    strawberry.union("SetOfferResult"),
]
WithdrawWorkResult = Annotated[
    WorkWithdrawn | NotFound | Forbidden | _Refusals, strawberry.union("WithdrawWorkResult")
]
ReviewWorkResult = Annotated[
    WorkReviewed | ValidationFailed | NotFound | Forbidden | Conflict | _Refusals,
    strawberry.union("ReviewWorkResult"),
]
