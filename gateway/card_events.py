"""The card provider's webhook: public, unauthenticated (the provider signs each event
instead), forwarded to licensing with its body exactly as it arrived, where the signature
is checked by the one process that holds the secret."""

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from gateway.clients.card import CardClient
from services.contracts.licensing import CardWebhookIn
from services.kit import errors

log = structlog.get_logger()

STRIPE_EVENTS_PATH = "/webhooks/stripe"
MAX_EVENT_BYTES = 512 * 1024


def card_events_router(cards: CardClient) -> APIRouter:
    router = APIRouter(tags=["payments"])

    @router.post(STRIPE_EVENTS_PATH, response_model=None)
    async def stripe_event(request: Request) -> JSONResponse:
        """An event Stripe sends: 200 once handled (or handled before), 400 when its
        signature does not check out, 503 when it should be sent again later."""
        body = await request.body()
        signature = request.headers.get("stripe-signature", "")
        try:
            if len(body) > MAX_EVENT_BYTES:
                raise errors.InvalidRequest("the event is larger than any Stripe sends")
            try:
                payload = body.decode()
            except UnicodeDecodeError:
                raise errors.InvalidRequest("the event is not UTF-8 text") from None
            handled = await cards.forward_event(CardWebhookIn(payload=payload, signature=signature))
        except errors.AssentError as error:
            log.warning("card.event.refused", error=error.code, status=error.status_code)
            return JSONResponse(
                {"error": error.code, "detail": error.detail}, status_code=error.status_code
            )
        return JSONResponse({"received": handled.event_id})

    return router
