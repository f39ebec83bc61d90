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
from gateway.types.errors import REFUSALS, Forbidden, NotFound, ValidationFailed, failure
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
