"""Stripe's `checkout.session.completed` as Stripe posts it, signed with the `stripe`
library's own signing helper, for the stack tests that top labs up by card."""

import json
import time
import uuid

import httpx
import stripe

from tests.fixtures.stack import STRIPE_WEBHOOK_SECRET, RunningStack


def paid_checkout(buyer_id: str, amount: int) -> str:
    return json.dumps(
        {
            "id": f"evt_{uuid.uuid4().hex}",
            "object": "event",
            "type": "checkout.session.completed",
            "created": int(time.time()),
            "data": {
                "object": {
                    "id": f"cs_test_{uuid.uuid4().hex[:12]}",
                    "object": "checkout.session",
                    "payment_status": "paid",
                    "amount_total": amount,
                    "currency": "eur",
                    "client_reference_id": buyer_id,
                }
            },
        }
    )


def signed(payload: str, secret: str = STRIPE_WEBHOOK_SECRET) -> dict[str, str]:
    header = stripe.WebhookSignature.generate_signature_header(payload, secret, int(time.time()))
    return {"stripe-signature": header}


async def post_event(
    running_stack: RunningStack, payload: str, headers: dict[str, str]
) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.post(
            running_stack.stack.gateway_url + "/webhooks/stripe", content=payload, headers=headers
        )
