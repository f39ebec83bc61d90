"""Card top-ups, with Stripe behind the payment interface.

A lab asks for a Checkout Session for an amount; it pays on Stripe's page; Stripe sends
`checkout.session.completed`, signed. The event is checked with the library's own
signature check (which also refuses one signed more than five minutes ago, a replay),
then credits the buyer named on the session through the same top-up as a bank transfer,
under the reference `stripe:<event id>`: an event sent again answers the top-up it made
and credits nothing more, in the same transaction as the ledger's own reference claim.
With no secret key configured the provider is off, and asking for a checkout says so.
"""

import uuid
from typing import Any

import stripe
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.licensing import (
    CardWebhookIn,
    CardWebhookRead,
    CheckoutIn,
    CheckoutRead,
    TopUpIn,
)
from services.contracts.roles import Role
from services.kit.errors import FieldError, ServiceUnavailable
from services.kit.internal_token import Caller, require_role
from services.licensing.config import Settings
from services.licensing.errors import CardEventRejected, CardPaymentsOff
from services.licensing.ledger.payments import PaymentService
from services.licensing.rules import check_currency, require_account

log = structlog.get_logger()

PAID = "checkout.session.completed"
REPLAY_TOLERANCE_SECONDS = 300


class CardPayments:
    def __init__(self, settings: Settings, payments: PaymentService) -> None:
        self._settings = settings
        self._payments = payments
        self._client: stripe.StripeClient | None = None
        if settings.stripe_secret_key.get_secret_value():
            # Another API address only where a test serves the provider's recorded answers.
            elsewhere: dict[str, Any] = (
                {"base_addresses": {"api": settings.stripe_api_base}}
                if settings.stripe_api_base
                else {}
            )
            self._client = stripe.StripeClient(
                settings.stripe_secret_key.get_secret_value(),
                http_client=stripe.HTTPXClient(),
                max_network_retries=2,
                **elsewhere,
            )

    def _on(self) -> stripe.StripeClient:
        if self._client is None:
            raise CardPaymentsOff("card payments are not configured here: top up by transfer")
        return self._client

    async def checkout(self, caller: Caller, checkout: CheckoutIn) -> CheckoutRead:
        """A Checkout Session for the buyer to pay `amount_minor` into their balance."""
        require_role(caller, Role.BUYER)
        buyer_id = require_account(caller)
        check_currency(checkout.currency)
        client = self._on()
        metadata = {"buyer_id": str(buyer_id)}
        try:
            session = await client.v1.checkout.sessions.create_async(
                params={
                    "mode": "payment",
                    "client_reference_id": str(buyer_id),
                    "metadata": metadata,
                    "payment_intent_data": {"metadata": metadata},
                    "line_items": [
                        {
                            "quantity": 1,
                            "price_data": {
                                "currency": checkout.currency.lower(),
                                "unit_amount": checkout.amount_minor,
                                "product_data": {"name": "Assent prepaid balance"},
                            },
                        }
                    ],
                    "success_url": self._settings.stripe_success_url,
                    "cancel_url": self._settings.stripe_cancel_url,
                }
            )
        except stripe.StripeError as exc:
            log.warning("card.checkout.failed", error=type(exc).__name__)
            raise ServiceUnavailable(
                "the card provider did not answer; try again", service="stripe"
            ) from exc
        return CheckoutRead(
            session_id=session.id,
            url=str(session.url),
            amount_minor=checkout.amount_minor,
            currency=checkout.currency,
        )

    async def receive(
        self, session: AsyncSession, caller: Caller, webhook: CardWebhookIn
    ) -> CardWebhookRead:
        """One signed event from the provider; a paid checkout credits its buyer once."""
        self._on()
        secret = self._settings.stripe_webhook_secret.get_secret_value()
        try:
            event = stripe.Webhook.construct_event(
                webhook.payload, webhook.signature, secret, tolerance=REPLAY_TOLERANCE_SECONDS
            )
        except (stripe.SignatureVerificationError, ValueError) as exc:
            raise CardEventRejected(
                "the event's signature does not check out, or it is too old",
                fields=[FieldError("signature", str(exc)[:200], "bad_signature")],
            ) from exc
        if event.type != PAID:
            return CardWebhookRead(event_id=event.id, credited=None)
        paid: dict[str, Any] = event.data.object.to_dict()
        if paid.get("payment_status") != "paid":
            return CardWebhookRead(event_id=event.id, credited=None)
        top_up = TopUpIn(
            buyer_id=uuid.UUID(str(paid.get("client_reference_id"))),
            amount_minor=int(paid["amount_total"]),
            currency=str(paid["currency"]).upper(),
            reference=f"stripe:{event.id}",
        )
        credited = await self._payments.credit_card_payment(session, caller, top_up)
        log.info("card.payment.credited", event_id=event.id, amount=top_up.amount_minor)
        return CardWebhookRead(event_id=event.id, credited=credited)
