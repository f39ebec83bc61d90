"""Webhooks for labs, as the Standard Webhooks specification shapes them: an endpoint per
account, a message per event and endpoint with a body of `{"type", "timestamp", "data"}`,
signed with the endpoint's secret; each attempt to deliver it kept."""

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

MAX_ENDPOINTS_PER_ACCOUNT = 20
MAX_URL_LENGTH = 2_000


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)


class WebhookEventType(StrEnum):
    DELIVERY_ISSUED = "delivery.issued"
    """A licence's delivery was built: its files can be downloaded."""
    LICENCE_REFUNDED = "licence.refunded"
    """Refunded, which revokes it: none of its records may be used from now on."""
    LICENCE_REVOKED = "licence.revoked"
    """Revoked without a refund: none of its records may be used from now on."""
    LICENCE_EXPIRING = "licence.expiring"
    """Some of its lines end soon: their records may not be used after `ends_at`."""
    WORK_WITHDRAWN = "work.withdrawn"
    """A work you licensed is no longer sold; what you bought stays yours on its terms."""
    WORK_VERSION_PUBLISHED = "work.version_published"
    """A work you licensed has a new file; the version you bought is unchanged."""


class MessageStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    """Every attempt failed; no further attempt is made."""


class WebhookEndpointIn(Schema):
    url: str = Field(min_length=1, max_length=MAX_URL_LENGTH)
    description: str = Field(default="", max_length=200)
    event_types: list[WebhookEventType] = Field(
        default_factory=list, description="the events sent to it; empty means every one"
    )


class WebhookEndpointRead(Schema):
    id: UUID
    url: str
    description: str
    event_types: list[WebhookEventType]
    created_at: datetime
    secret_rotated_at: datetime | None


class WebhookEndpointCreated(Schema):
    endpoint: WebhookEndpointRead
    secret: str = Field(
        description="`whsec_` and the base64 key its messages are signed with: shown once, "
        "kept nowhere (it is derived again when signing)"
    )


class WebhookAttemptRead(Schema):
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


class WebhookMessageRead(Schema):
    id: str = Field(description="the `webhook-id` header: the same on every attempt")
    endpoint_id: UUID
    event_type: WebhookEventType
    status: MessageStatus
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    attempts: list[WebhookAttemptRead]


class WebhookBody(Schema):
    """What each request carries, as the specification's payload structure."""

    type: WebhookEventType
    timestamp: AwareDatetime
    data: dict[str, Any]
