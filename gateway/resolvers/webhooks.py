"""Labs' webhook endpoints: registered, listed with what was sent, rotated, deleted."""

import uuid

import pydantic
import strawberry
from strawberry.types import Info

from gateway.context import Context
from gateway.types.errors import REFUSALS, Conflict, Forbidden, NotFound, ValidationFailed, failure
from gateway.types.webhooks import (
    CreateWebhookEndpointResult,
    DeleteWebhookEndpointResult,
    RotateWebhookSecretResult,
    WebhookEndpoint,
    WebhookEndpointCreated,
    WebhookEndpointDeleted,
    WebhookEndpointList,
    WebhookEndpointsResult,
    WebhookEventType,
)
from services.contracts import webhooks as contract
from services.kit import errors


def _endpoint_id(value: strawberry.ID) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise errors.NotFound("no such webhook endpoint") from None


@strawberry.type
class WebhookQuery:
    @strawberry.field(description="Your webhook endpoints, oldest first.")
    async def webhook_endpoints(self, info: Info[Context, None]) -> WebhookEndpointsResult:
        ctx = info.context
        try:
            found = await ctx.webhooks.endpoints(ctx.require_principal())
        except errors.AssentError as error:
            return failure(error, Forbidden, *REFUSALS)
        return WebhookEndpointList(items=[WebhookEndpoint.of(endpoint) for endpoint in found])


@strawberry.type
class WebhookMutation:
    @strawberry.mutation(
        description="Register an http(s) endpoint for signed webhooks (Standard Webhooks). "
        "The answer holds its signing secret, shown this once."
    )
    async def create_webhook_endpoint(
        self,
        info: Info[Context, None],
        url: str,
        description: str = "",
        event_types: list[WebhookEventType] | None = None,
    ) -> CreateWebhookEndpointResult:
        ctx = info.context
        try:
            principal = ctx.require_principal()
            endpoint = contract.WebhookEndpointIn(
                url=url, description=description, event_types=list(event_types or [])
            )
            created = await ctx.webhooks.create(principal, endpoint)
        except (errors.AssentError, pydantic.ValidationError) as error:
            return failure(error, ValidationFailed, Conflict, Forbidden, *REFUSALS)
        return WebhookEndpointCreated.of(created)

    @strawberry.mutation(description="A new signing secret for an endpoint, shown this once.")
    async def rotate_webhook_secret(
        self, info: Info[Context, None], id: strawberry.ID
    ) -> RotateWebhookSecretResult:
        ctx = info.context
        try:
            rotated = await ctx.webhooks.rotate(ctx.require_principal(), _endpoint_id(id))
        except errors.AssentError as error:
            return failure(error, NotFound, Forbidden, *REFUSALS)
        return WebhookEndpointCreated.of(rotated)

    @strawberry.mutation(description="Stop sending webhooks to an endpoint.")
    async def delete_webhook_endpoint(
        self, info: Info[Context, None], id: strawberry.ID
    ) -> DeleteWebhookEndpointResult:
        ctx = info.context
        try:
            await ctx.webhooks.delete(ctx.require_principal(), _endpoint_id(id))
        except errors.AssentError as error:
            return failure(error, NotFound, Forbidden, *REFUSALS)
        return WebhookEndpointDeleted(id=id)
