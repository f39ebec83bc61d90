"""Delivery's GraphQL types: deliveries, their signed manifests and files, leak traces."""

import uuid
from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from gateway.context import Context
from gateway.types.catalogue import MediaType
from gateway.types.errors import (
    Forbidden,
    NotFound,
    Refusals,
    ValidationFailed,
    unavailable_in_place,
)
from gateway.types.scalars import BigInt
from gateway.types.shards import ShardSet
from services.contracts import delivery as contract
from services.contracts.catalogue import MAX_PAGE_SIZE
from services.kit import errors

DeliveryStatus = contract.DeliveryStatus
strawberry.enum(DeliveryStatus)


@strawberry.type
class DeliveryExclusion:
    work_id: strawberry.ID
    reason: str
    detail: str


@strawberry.type
class DeliveryFile:
    work_id: strawberry.ID
    version_id: strawberry.ID
    file_name: str
    size: BigInt
    sha256: str = strawberry.field(description="sha256 of the file as delivered to you.")
    media_type: MediaType
    attribution: str
    terms_id: str
    fingerprint: str
    path: str = strawberry.field(description="The download path on this gateway.")
    original_sha256: str | None = strawberry.field(
        default=None,
        description="sha256 of the file as uploaded: it differs from sha256 where a C2PA "
        "manifest naming your licence was embedded (JPEG, PNG, WebP).",
    )
    download_url: str = strawberry.field(
        description="GET with your API key: checks the licence, then redirects to the bytes."
    )


@strawberry.type
class DeliveryFileConnection:
    items: list[DeliveryFile]
    next_cursor: str | None


@strawberry.type
class Delivery:
    id: strawberry.ID
    licence_id: strawberry.ID
    status: DeliveryStatus
    created_at: datetime
    issued_at: datetime | None
    key_id: str | None = strawberry.field(description="The signing key, as published.")
    manifest_sha256: str | None
    entry_count: int
    excluded: list[DeliveryExclusion] = strawberry.field(
        description="Lines that could not be delivered (the file sold is missing), each "
        "refunded. A withdrawal or consent change after the sale never leaves a line out."
    )

    @classmethod
    def of(cls, delivery: contract.DeliveryRead) -> "Delivery":
        return cls(
            id=strawberry.ID(str(delivery.id)),
            licence_id=strawberry.ID(str(delivery.licence_id)),
            status=delivery.status,
            created_at=delivery.created_at,
            issued_at=delivery.issued_at,
            key_id=delivery.key_id,
            manifest_sha256=delivery.manifest_sha256,
            entry_count=delivery.entry_count,
            excluded=[
                DeliveryExclusion(
                    work_id=strawberry.ID(str(ex.work_id)), reason=ex.reason, detail=ex.detail
                )
                for ex in delivery.excluded
            ],
        )

    @strawberry.field(
        description="The signed manifest: a DSSE envelope around an in-toto statement; "
        "null until the delivery is issued, and null with a SERVICE_UNAVAILABLE error at "
        "its path when delivery does not answer."
    )
    async def manifest(self, info: Info[Context, None]) -> JSON | None:
        if self.status != DeliveryStatus.ISSUED:
            return None
        try:
            read = await info.context.loaders.manifests.load(uuid.UUID(str(self.id)))
        except errors.ServiceUnavailable as error:
            raise unavailable_in_place(error) from error
        return JSON(read.envelope.model_dump(mode="json", by_alias=True)) if read else None

    @strawberry.field(
        description="The WebDataset shards and their index, once asked for with "
        "`requestShards`; null before. Null, with a SERVICE_UNAVAILABLE error at its path, "
        "when delivery does not answer."
    )
    async def shards(self, info: Info[Context, None]) -> ShardSet | None:
        if self.status != DeliveryStatus.ISSUED:
            return None
        ctx = info.context
        try:
            read = await ctx.delivery.shards(ctx.require_principal(), uuid.UUID(str(self.id)))
        except errors.NotFound:
            return None
        except errors.ServiceUnavailable as error:
            raise unavailable_in_place(error) from error
        return ShardSet.of(read, ctx.public_url)

    @strawberry.field(
        description="The manifest's files in manifest order, a page at a time; none until "
        "the delivery is issued. Null, with a SERVICE_UNAVAILABLE error at its path, when "
        "delivery does not answer."
    )
    async def files(
        self, info: Info[Context, None], first: int = MAX_PAGE_SIZE, after: str | None = None
    ) -> DeliveryFileConnection | None:
        if self.status != DeliveryStatus.ISSUED:
            # A lab asking right after its purchase: nothing to list yet, not an error.
            return DeliveryFileConnection(items=[], next_cursor=None)
        ctx = info.context
        delivery_id, size = uuid.UUID(str(self.id)), max(1, min(first, MAX_PAGE_SIZE))
        try:
            if after is None:
                # The first page of every delivery of the answer comes in one call.
                page = await ctx.loaders.first_files.load((delivery_id, size))
            else:
                # A cursor belongs to one delivery: the next page is its own call.
                page = await ctx.delivery.files(ctx.require_principal(), delivery_id, size, after)
        except errors.ServiceUnavailable as error:
            raise unavailable_in_place(error) from error
        if page is None:
            return DeliveryFileConnection(items=[], next_cursor=None)
        return DeliveryFileConnection(
            items=[
                DeliveryFile(
                    work_id=strawberry.ID(str(entry.work_id)),
                    version_id=strawberry.ID(str(entry.version_id)),
                    file_name=entry.file_name,
                    size=BigInt(entry.size),
                    sha256=entry.sha256,
                    media_type=entry.media_type,
                    attribution=entry.attribution,
                    terms_id=entry.terms_id,
                    fingerprint=entry.fingerprint,
                    original_sha256=entry.original_sha256,
                    path=entry.path,
                    download_url=ctx.public_url + entry.path,
                )
                for entry in page.items
            ],
            next_cursor=page.next_cursor,
        )


@strawberry.type
class TraceCandidate:
    delivery_id: strawberry.ID
    licence_id: strawberry.ID
    buyer_id: strawberry.ID
    buyer_name: str
    matched_entries: int


@strawberry.type
class TraceReport:
    licence_id: strawberry.ID | None = strawberry.field(
        description="Named only when the evidence points to one delivery beyond doubt."
    )
    delivery_id: strawberry.ID | None
    buyer_id: strawberry.ID | None
    buyer_name: str | None
    confidence: float
    entries_examined: int
    entries_matched: int
    order_agreement: float | None
    evidence: list[str]
    candidates: list[TraceCandidate]

    @classmethod
    def of(cls, result: contract.TraceResult) -> "TraceReport":
        def opt(value: uuid.UUID | None) -> strawberry.ID | None:
            return strawberry.ID(str(value)) if value else None

        return cls(
            licence_id=opt(result.licence_id),
            delivery_id=opt(result.delivery_id),
            buyer_id=opt(result.buyer_id),
            buyer_name=result.buyer_name,
            confidence=result.confidence,
            entries_examined=result.entries_examined,
            entries_matched=result.entries_matched,
            order_agreement=result.order_agreement,
            evidence=list(result.evidence),
            candidates=[
                TraceCandidate(
                    delivery_id=strawberry.ID(str(c.delivery_id)),
                    licence_id=strawberry.ID(str(c.licence_id)),
                    buyer_id=strawberry.ID(str(c.buyer_id)),
                    buyer_name=c.buyer_name,
                    matched_entries=c.matched_entries,
                )
                for c in result.candidates
            ],
        )


DeliveryResult = Annotated[Delivery | NotFound | Refusals, strawberry.union("DeliveryResult")]
TraceManifestResult = Annotated[
    TraceReport | ValidationFailed | Forbidden | Refusals,
    strawberry.union("TraceManifestResult"),
]
