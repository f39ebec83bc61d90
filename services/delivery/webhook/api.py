"""Labs' webhook endpoints and what was sent to them (the contract is
`services.contracts.webhooks`)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from services.contracts.webhooks import (
    WebhookEndpointCreated,
    WebhookEndpointIn,
    WebhookEndpointRead,
    WebhookMessageRead,
)
from services.delivery.config import Settings
from services.delivery.dependencies import Session
from services.delivery.webhook.addresses import WebhookResolver
from services.delivery.webhook.service import webhook_service
from services.kit.errors import (
    Conflict,
    Forbidden,
    InvalidRequest,
    NotFound,
    Unauthenticated,
    error_responses,
)
from services.kit.internal_token import CurrentCaller

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
READ = (Unauthenticated, Forbidden, NotFound)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _resolver(request: Request) -> WebhookResolver:
    resolver: WebhookResolver = request.app.state.webhook_resolver
    return resolver


DeliverySettings = Annotated[Settings, Depends(_settings)]
Resolver = Annotated[WebhookResolver, Depends(_resolver)]


@router.post(
    "/endpoints",
    responses=error_responses(Unauthenticated, Forbidden, InvalidRequest, Conflict),
)
async def create_endpoint(
    endpoint: WebhookEndpointIn,
    caller: CurrentCaller,
    session: Session,
    settings: DeliverySettings,
    resolver: Resolver,
) -> WebhookEndpointCreated:
    """Register an endpoint for your account; its signing secret is in this answer only."""
    return await webhook_service.create(
        session, caller, endpoint, master=settings.watermark_secret, resolver=resolver
    )


@router.get("/endpoints", responses=error_responses(Unauthenticated, Forbidden))
async def list_endpoints(caller: CurrentCaller, session: Session) -> list[WebhookEndpointRead]:
    """Your endpoints, oldest first."""
    return await webhook_service.endpoints(session, caller)


@router.delete("/endpoints/{endpoint_id}", status_code=204, responses=error_responses(*READ))
async def delete_endpoint(
    endpoint_id: uuid.UUID, caller: CurrentCaller, session: Session
) -> Response:
    """Stop sending to an endpoint."""
    await webhook_service.delete(session, caller, endpoint_id)
    return Response(status_code=204)


@router.post("/endpoints/{endpoint_id}/rotate", responses=error_responses(*READ))
async def rotate_secret(
    endpoint_id: uuid.UUID, caller: CurrentCaller, session: Session, settings: DeliverySettings
) -> WebhookEndpointCreated:
    """A new signing secret for the endpoint, in this answer only; the old one stops."""
    return await webhook_service.rotate(
        session, caller, endpoint_id, master=settings.watermark_secret
    )


@router.get("/endpoints/{endpoint_id}/messages", responses=error_responses(*READ))
async def list_messages(
    endpoint_id: uuid.UUID, caller: CurrentCaller, session: Session
) -> list[WebhookMessageRead]:
    """The endpoint's latest messages, newest first, each with every attempt."""
    return await webhook_service.messages(session, caller, endpoint_id)
