"""Webhook endpoints for labs, and what was sent to each."""

import uuid
from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from gateway.context import Context
from gateway.types.errors import (
    Conflict,
    Forbidden,
    NotFound,
    Refusals,
    ValidationFailed,
    unavailable_in_place,
)
from services.contracts import webhooks as contract
from services.kit import errors

WebhookEventType = contract.WebhookEventType
WebhookMessageStatus = contract.MessageStatus
strawberry.enum(WebhookEventType)
strawberry.enum(WebhookMessageStatus, name="WebhookMessageStatus")


@strawberry.type
class WebhookAttempt:
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


@strawberry.type
class WebhookMessage:
    id: str = strawberry.field(description="The `webhook-id` header, the same on every attempt.")
    event_type: WebhookEventType
    status: WebhookMessageStatus
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    attempts: list[WebhookAttempt]

    @classmethod
    def of(cls, message: contract.WebhookMessageRead) -> "WebhookMessage":
        return cls(
            id=message.id,
            event_type=message.event_type,
            status=message.status,
            created_at=message.created_at,
            next_attempt_at=message.next_attempt_at,
            delivered_at=message.delivered_at,
            attempts=[
                WebhookAttempt(
                    attempted_at=a.attempted_at,
                    status_code=a.status_code,
                    error=a.error,
                    duration_ms=a.duration_ms,
                )
                for a in message.attempts
            ],
        )


@strawberry.type
class WebhookEndpoint:
    id: strawberry.ID
    url: str
    description: str
    event_types: list[WebhookEventType] = strawberry.field(
        description="The events sent to it; empty means every one."
    )
    created_at: datetime
    secret_rotated_at: datetime | None

    @strawberry.field(description="Its latest messages, newest first, with every attempt.")
    async def messages(self, info: Info[Context, None]) -> list[WebhookMessage] | None:
        ctx = info.context
        try:
            found = await ctx.webhooks.messages(ctx.require_principal(), uuid.UUID(str(self.id)))
        except errors.ServiceUnavailable as error:
            raise unavailable_in_place(error) from error
        return [WebhookMessage.of(message) for message in found]

    @classmethod
    def of(cls, endpoint: contract.WebhookEndpointRead) -> "WebhookEndpoint":
        return cls(
            id=strawberry.ID(str(endpoint.id)),
            url=endpoint.url,
            description=endpoint.description,
            event_types=list(endpoint.event_types),
            created_at=endpoint.created_at,
            secret_rotated_at=endpoint.secret_rotated_at,
        )


@strawberry.type
class WebhookEndpointCreated:
    endpoint: WebhookEndpoint
    secret: str = strawberry.field(
        description="`whsec_` and the key its messages are signed with: shown this once."
    )

    @classmethod
    def of(cls, created: contract.WebhookEndpointCreated) -> "WebhookEndpointCreated":
        return cls(endpoint=WebhookEndpoint.of(created.endpoint), secret=created.secret)


@strawberry.type
class WebhookEndpointList:
    items: list[WebhookEndpoint]


@strawberry.type
class WebhookEndpointDeleted:
    id: strawberry.ID


CreateWebhookEndpointResult = Annotated[
    WebhookEndpointCreated | ValidationFailed | Conflict | Forbidden | Refusals,
    strawberry.union("CreateWebhookEndpointResult"),
]
RotateWebhookSecretResult = Annotated[
    WebhookEndpointCreated | NotFound | Forbidden | Refusals,
    strawberry.union("RotateWebhookSecretResult"),
]
DeleteWebhookEndpointResult = Annotated[
    WebhookEndpointDeleted | NotFound | Forbidden | Refusals,
    strawberry.union("DeleteWebhookEndpointResult"),
]
WebhookEndpointsResult = Annotated[
    WebhookEndpointList | Forbidden | Refusals, strawberry.union("WebhookEndpointsResult")
]
