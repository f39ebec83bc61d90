"""Card top-ups, as the gateway calls licensing for them: a lab's checkout, and the card
provider's events, which the gateway forwards as itself (the provider has no account)."""

from pydantic_core import to_json

from gateway.accounts.service import Principal
from gateway.clients.base import ServiceApi
from gateway.clients.errors import raise_for_error
from services.contracts.licensing import CardWebhookIn, CardWebhookRead, CheckoutIn, CheckoutRead
from services.contracts.roles import Role

GATEWAY_SUBJECT = "service:gateway"


class CardClient(ServiceApi):
    async def checkout(self, principal: Principal, checkout: CheckoutIn) -> CheckoutRead:
        return await self._model(
            CheckoutRead, principal, "POST", "/v1/payments/card/checkouts", body=checkout
        )

    async def forward_event(self, webhook: CardWebhookIn) -> CardWebhookRead:
        response = await self._client.request(
            "POST",
            "/v1/payments/card/events",
            subject=GATEWAY_SUBJECT,
            roles=frozenset({Role.SERVICE}),
            content=to_json(webhook),
        )
        raise_for_error(self._client.name, response)
        return CardWebhookRead.model_validate_json(response.content)
