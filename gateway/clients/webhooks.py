"""Webhook endpoints, as the gateway calls delivery for them."""

import uuid

from pydantic import TypeAdapter

from gateway.accounts.service import Principal
from gateway.clients.base import ServiceApi
from services.contracts.webhooks import (
    WebhookEndpointCreated,
    WebhookEndpointIn,
    WebhookEndpointRead,
    WebhookMessageRead,
)

_ENDPOINTS = TypeAdapter(list[WebhookEndpointRead])
_MESSAGES = TypeAdapter(list[WebhookMessageRead])
PATH = "/v1/webhooks/endpoints"


class WebhookClient(ServiceApi):
    async def create(
        self, principal: Principal, endpoint: WebhookEndpointIn
    ) -> WebhookEndpointCreated:
        return await self._model(WebhookEndpointCreated, principal, "POST", PATH, body=endpoint)

    async def endpoints(self, principal: Principal) -> list[WebhookEndpointRead]:
        return _ENDPOINTS.validate_json(await self._call(principal, "GET", PATH))

    async def delete(self, principal: Principal, endpoint_id: uuid.UUID) -> None:
        await self._call(principal, "DELETE", f"{PATH}/{endpoint_id}")

    async def rotate(self, principal: Principal, endpoint_id: uuid.UUID) -> WebhookEndpointCreated:
        return await self._model(
            WebhookEndpointCreated, principal, "POST", f"{PATH}/{endpoint_id}/rotate"
        )

    async def messages(
        self, principal: Principal, endpoint_id: uuid.UUID
    ) -> list[WebhookMessageRead]:
        return _MESSAGES.validate_json(
            await self._call(principal, "GET", f"{PATH}/{endpoint_id}/messages")
        )
