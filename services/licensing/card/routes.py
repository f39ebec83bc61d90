"""Card top-ups' routes: a checkout for a lab, and the provider's events as the gateway
forwards them."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from services.contracts.licensing import CardWebhookIn, CardWebhookRead, CheckoutIn, CheckoutRead
from services.contracts.roles import Role
from services.kit.errors import (
    Forbidden,
    InvalidRequest,
    ServiceUnavailable,
    Unauthenticated,
    error_responses,
)
from services.kit.internal_token import CurrentCaller, require_role
from services.licensing.card.service import CardPayments
from services.licensing.dependencies import Session
from services.licensing.errors import CardEventRejected, CardPaymentsOff

router = APIRouter(prefix="/v1/payments/card", tags=["payments"])


def _cards(request: Request) -> CardPayments:
    cards: CardPayments = request.app.state.card_payments
    return cards


Cards = Annotated[CardPayments, Depends(_cards)]


@router.post(
    "/checkouts",
    responses=error_responses(
        Unauthenticated, Forbidden, InvalidRequest, CardPaymentsOff, ServiceUnavailable
    ),
)
async def create_checkout(
    checkout: CheckoutIn, caller: CurrentCaller, cards: Cards
) -> CheckoutRead:
    """A card checkout for a buyer's top-up; the balance is credited once it is paid."""
    return await cards.checkout(caller, checkout)


@router.post(
    "/events",
    responses=error_responses(
        Unauthenticated, Forbidden, CardEventRejected, InvalidRequest, CardPaymentsOff
    ),
)
async def receive_event(
    webhook: CardWebhookIn, caller: CurrentCaller, session: Session, cards: Cards
) -> CardWebhookRead:
    """A signed event of the card provider, forwarded by the gateway (services only)."""
    require_role(caller, Role.SERVICE)
    return await cards.receive(session, caller, webhook)
