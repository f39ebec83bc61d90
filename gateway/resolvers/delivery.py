import uuid

import pydantic
import strawberry
from strawberry.types import Info

from gateway.context import Context
from gateway.types.delivery import (
    Delivery,
    DeliveryResult,
    TraceManifestResult,
    TraceReport,
)
from gateway.types.errors import (
    REFUSALS,
    Conflict,
    Forbidden,
    NotFound,
    ValidationFailed,
    failure,
)
from gateway.types.shards import RequestShardsResult, ShardSet, ShardsRequested
from services.contracts import delivery as contract
from services.kit import errors


@strawberry.type
class DeliveryQuery:
    @strawberry.field(
        description="A delivery of one of your licences: its signed manifest and a "
        "download link per file."
    )
    async def delivery(self, info: Info[Context, None], id: strawberry.ID) -> DeliveryResult:
        ctx = info.context
        try:
            principal = ctx.require_principal()
            try:
                delivery_id = uuid.UUID(str(id))
            except ValueError:
                raise errors.NotFound("no such delivery") from None
            found = await ctx.delivery.delivery(principal, delivery_id)
        except errors.AssentError as error:
            return failure(error, NotFound, *REFUSALS)
        return Delivery.of(found)


@strawberry.type
class DeliveryMutation:
    @strawberry.mutation(
        description="Have an issued delivery also written as WebDataset shards of about "
        "1 GiB with a Parquet index, one link per shard (built in the background; asking "
        "again returns the same set). Conflict codes: DeliveryNotReady, DeliveryEmpty, "
        "LicenceRevoked."
    )
    async def request_shards(
        self, info: Info[Context, None], delivery_id: strawberry.ID
    ) -> RequestShardsResult:
        ctx = info.context
        try:
            principal = ctx.require_principal()
            try:
                parsed = uuid.UUID(str(delivery_id))
            except ValueError:
                raise errors.NotFound("no such delivery") from None
            read = await ctx.delivery.request_shards(principal, parsed)
        except errors.AssentError as error:
            return failure(error, NotFound, Forbidden, Conflict, *REFUSALS)
        return ShardsRequested(shard_set=ShardSet.of(read, ctx.public_url))

    @strawberry.mutation(
        description="Name the licence and buyer a leaked manifest was issued to, from the "
        "whole text or any part of it (auditors and admins)."
    )
    async def trace_manifest(self, info: Info[Context, None], manifest: str) -> TraceManifestResult:
        ctx = info.context
        try:
            principal = ctx.require_principal()
            result = await ctx.delivery.trace(principal, contract.TraceIn(manifest=manifest))
        except (errors.AssentError, pydantic.ValidationError) as error:
            return failure(error, ValidationFailed, Forbidden, *REFUSALS)
        return TraceReport.of(result)
