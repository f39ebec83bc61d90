"""A card top-up's last step with every component in its own process: Stripe's signed
`checkout.session.completed`, posted to the gateway's public webhook as Stripe posts it,
credits the lab's balance once, however often it arrives; a forged one credits nothing."""

import pytest

from tests.e2e.marketplace import assert_ledger_sound, eur_balance, register
from tests.e2e.stripe_events import paid_checkout, post_event, signed
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.stack import RunningStack

pytestmark = pytest.mark.stack


async def test_stripes_signed_event_credits_the_lab_once(
    running_stack: RunningStack, gateway: GraphQLClient
) -> None:
    buyer_id, lab = await register(gateway, "BUYER", "Card Paying Lab")
    payload = paid_checkout(buyer_id, 2_500)

    refused = await post_event(running_stack, payload, signed(payload, "whsec_not_ours"))
    answers = [await post_event(running_stack, payload, signed(payload)) for _ in range(2)]

    assert refused.status_code == 400, refused.text
    assert [answer.status_code for answer in answers] == [200, 200], [a.text for a in answers]
    assert await eur_balance(gateway, lab) == 2_500
    await assert_ledger_sound(gateway, running_stack.admin_key)
