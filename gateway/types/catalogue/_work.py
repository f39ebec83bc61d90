"""Works: what a creator lists, its file versions and co-creators, and the search."""

import uuid
from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from gateway.context import Context
from gateway.types.catalogue._own_site import OwnSiteKit
from gateway.types.catalogue._terms import Consent, Offer, Use
from gateway.types.errors import Conflict, Forbidden, NotFound, Refusals, ValidationFailed
from gateway.types.scalars import BigInt
from services.contracts import catalogue as contract

# The contracts' enums become GraphQL enums as they are (strawberry.enum marks the class).
MediaType = contract.MediaType
WorkStatus = contract.WorkStatus
ReviewStatus = contract.ReviewStatus
VersionStatus = contract.VersionStatus
SearchSort = contract.SearchSort
SaleReasonCode = contract.SaleReasonCode
PreviewKind = contract.PreviewKind
for _enum in (
    MediaType,
    WorkStatus,
    ReviewStatus,
    VersionStatus,
    SearchSort,
    SaleReasonCode,
    PreviewKind,
):
    strawberry.enum(_enum)


@strawberry.type(description="What a buyer sees of a file before licensing it.")
class Preview:
    kind: PreviewKind
    duration_ms: int | None = strawberry.field(description="WAVEFORM: the sound's length.")
    excerpt: str | None = strawberry.field(description="EXCERPT: the text's opening.")
    note: str | None = strawberry.field(description="NONE: why there is no preview.")
    version_id: strawberry.Private[uuid.UUID]

    @strawberry.field(
        description="THUMBNAIL or WAVEFORM: the picture, at a short-lived address of the "
        "object store (fetch it within minutes; ask again for a fresh one)."
    )
    async def image_url(self, info: Info[Context, None]) -> str | None:
        if self.kind not in (PreviewKind.THUMBNAIL, PreviewKind.WAVEFORM):
            return None
        found = await info.context.loaders.previews.load(self.version_id)
        return found.url if found is not None else None


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
    preview: Preview | None = strawberry.field(
        description="Made when the upload completes; null while it is pending."
    )

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
            preview=Preview(
                kind=version.preview_kind,
                duration_ms=version.duration_ms,
                excerpt=version.excerpt,
                note=version.preview_note,
                version_id=version.id,
            )
            if version.preview_kind is not None
            else None,
        )


@strawberry.type
class Creator:
    id: strawberry.ID
    name: str

    @strawberry.field(description="One own-site kit for all the creator's listed works.")
    def own_site_kit(self, info: Info[Context, None]) -> OwnSiteKit:
        return OwnSiteKit.of_creator(info.context.public_url, uuid.UUID(str(self.id)))


@strawberry.type
class Share:
    creator: Creator
    basis_points: int = strawberry.field(description="Out of 10000.")


@strawberry.type
class SaleReason:
    """Why a work is not for sale, in plain words; `creator` names a missing co-creator."""

    code: SaleReasonCode
    detail: str
    creator: Creator | None

    @classmethod
    def of(cls, reason: contract.SaleReason) -> "SaleReason":
        creator = None
        if reason.creator_id is not None:
            creator = Creator(
                id=strawberry.ID(str(reason.creator_id)), name=reason.creator_name or ""
            )
        return cls(code=reason.code, detail=reason.detail, creator=creator)


@strawberry.type
class WorkDetailsVersion:
    number: int = strawberry.field(description="1: the work as listed.")
    title: str
    description: str
    tags: list[str]
    media_type: MediaType
    changed: list[str] = strawberry.field(
        description="The fields this version changed: title, description, tags, mediaType."
    )
    edited_by: strawberry.ID
    edited_at: datetime

    @classmethod
    def of(cls, version: contract.MetadataVersionRead) -> "WorkDetailsVersion":
        return cls(
            number=version.number,
            title=version.title,
            description=version.description,
            tags=list(version.tags),
            media_type=version.media_type,
            changed=["mediaType" if name == "media_type" else name for name in version.changed],
            edited_by=strawberry.ID(str(version.edited_by)),
            edited_at=version.edited_at,
        )


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
    sale_status: list[SaleReason] = strawberry.field(
        description="Why the work is not for sale; empty while it is listed."
    )
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
            sale_status=[SaleReason.of(reason) for reason in work.sale_status],
            owner_id=work.owner_id,
        )

    @strawberry.field
    async def owner(self, info: Info[Context, None]) -> Creator | None:
        creator = await info.context.loaders.creators.load(self.owner_id)
        return Creator(id=strawberry.ID(str(creator.id)), name=creator.name) if creator else None

    @strawberry.field(
        description="The work's title, description, tags and kind version by version, "
        "oldest first: who changed what, and when."
    )
    async def history(self, info: Info[Context, None]) -> list[WorkDetailsVersion]:
        versions = await info.context.loaders.histories.load(uuid.UUID(str(self.id)))
        return [WorkDetailsVersion.of(version) for version in versions or []]

    @strawberry.field(description="The files to publish on the creator's own site.")
    def own_site_kit(self, info: Info[Context, None]) -> OwnSiteKit:
        return OwnSiteKit.of_work(info.context.public_url, uuid.UUID(str(self.id)))

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


@strawberry.type
class WorkWithdrawn:
    work: Work


@strawberry.type
class WorkReviewed:
    work: Work


@strawberry.input(description="The details to change; a field left out stays as it is.")
class UpdateWorkInput:
    title: str | None = None
    description: str | None = None
    tags: list[str] | None = None
    media_type: MediaType | None = strawberry.field(default=None, description="The kind.")


@strawberry.type
class WorkUpdated:
    work: Work


WorkResult = Annotated[Work | NotFound | Refusals, strawberry.union("WorkResult")]
WorksResult = Annotated[
    WorkConnection | ValidationFailed | Refusals, strawberry.union("WorksResult")
]
WithdrawWorkResult = Annotated[
    WorkWithdrawn | NotFound | Forbidden | Refusals, strawberry.union("WithdrawWorkResult")
]
ReviewWorkResult = Annotated[
    WorkReviewed | ValidationFailed | NotFound | Forbidden | Conflict | Refusals,
    strawberry.union("ReviewWorkResult"),
]
UpdateWorkResult = Annotated[
    WorkUpdated | ValidationFailed | NotFound | Conflict | Refusals,
    strawberry.union("UpdateWorkResult"),
]
