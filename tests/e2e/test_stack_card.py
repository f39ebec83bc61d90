"""A card top-up's last step with every component in its own process: Stripe's signed
`checkout.session.completed`, posted to the gateway's public webhook as Stripe posts it,
credits the lab's balance once, however often it arrives; a forged one credits nothing."""

import json
import time
import uuid

import httpx
import pytest
import stripe

from tests.e2e.marketplace import assert_ledger_sound, eur_balance, register
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.stack import STRIPE_WEBHOOK_SECRET, RunningStack

pytestmark = pytest.mark.stack


def _paid(buyer_id: str, amount: int) -> str:
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


async def test_stripes_signed_event_credits_the_lab_once(
    running_stack: RunningStack, gateway: GraphQLClient
) -> None:
    buyer_id, lab = await register(gateway, "BUYER", "Card Paying Lab")
    payload = _paid(buyer_id, 2_500)
    signature = stripe.WebhookSignature.generate_signature_header(
        payload, STRIPE_WEBHOOK_SECRET, int(time.time())
    )
    forged = stripe.WebhookSignature.generate_signature_header(
        payload, "whsec_not_ours", int(time.time())
    )
    url = running_stack.stack.gateway_url + "/webhooks/stripe"

    async with httpx.AsyncClient() as http:
        refused = await http.post(url, content=payload, headers={"stripe-signature": forged})
        answers = [
            await http.post(url, content=payload, headers={"stripe-signature": signature})
            for _ in range(2)
        ]

    assert refused.status_code == 400, refused.text
    assert [answer.status_code for answer in answers] == [200, 200], [a.text for a in answers]
    assert await eur_balance(gateway, lab) == 2_500
    await assert_ledger_sound(gateway, running_stack.admin_key)
