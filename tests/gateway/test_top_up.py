"""Recording a buyer's money through the gateway: a buyer who has just registered can be
topped up at once, and a payment's reference credits once."""

import uuid
from typing import Any

import pytest

from tests.e2e.marketplace import register
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.stack import RunningStack

TOP_UP = """mutation($buyer: ID!, $amount: BigInt!, $ref: String!) {
  topUp(buyerId: $buyer, amountMinor: $amount, currency: "EUR", reference: $ref) {
    __typename
    ... on MoneyRecorded { transaction { id reference } }
    ... on Conflict { code }
    ... on ValidationFailed { fields { field code } } } }"""
BALANCES = """query($owner: ID!) { balances(ownerId: $owner) {
  ... on Balances { balances { accountKind balance { amountMinor currency } } } } }"""

pytestmark = pytest.mark.stack


async def top_up(
    gateway: GraphQLClient, admin: str, buyer_id: str, amount: int, reference: str
) -> dict[str, Any]:
    variables = {"buyer": buyer_id, "amount": amount, "ref": reference}
    answer: dict[str, Any] = (await gateway.execute(TOP_UP, variables, key=admin))["topUp"]
    return answer


async def test_a_buyer_who_just_registered_is_topped_up_at_once(
    gateway: GraphQLClient, running_stack: RunningStack
) -> None:
    for attempt in range(5):
        buyer_id, _ = await register(gateway, "BUYER", f"Fresh Lab {attempt}")
        recorded = await top_up(
            gateway, running_stack.admin_key, buyer_id, 5_000, f"wire-{uuid.uuid4().hex}"
        )
        assert recorded["__typename"] == "MoneyRecorded", recorded


async def test_a_reference_credits_once_and_refuses_another_payment(
    gateway: GraphQLClient, running_stack: RunningStack
) -> None:
    admin = running_stack.admin_key
    buyer_id, _ = await register(gateway, "BUYER", "Once Only Lab")
    reference = f"wire-{uuid.uuid4().hex}"

    first = await top_up(gateway, admin, buyer_id, 7_000, reference)
    again = await top_up(gateway, admin, buyer_id, 7_000, reference)
    other = await top_up(gateway, admin, buyer_id, 9_000, reference)

    assert first["__typename"] == "MoneyRecorded", first
    assert again == first
    assert other == {"__typename": "Conflict", "code": "ReferenceReused"}
    balances = await gateway.execute(BALANCES, {"owner": buyer_id}, key=admin)
    assert balances["balances"]["balances"] == [
        {"accountKind": "BUYER_BALANCE", "balance": {"amountMinor": 7_000, "currency": "EUR"}}
    ]


async def test_an_unknown_buyer_is_refused(
    gateway: GraphQLClient, running_stack: RunningStack
) -> None:
    refused = await top_up(
        gateway, running_stack.admin_key, str(uuid.uuid4()), 1_000, f"wire-{uuid.uuid4().hex}"
    )
    assert refused == {
        "__typename": "ValidationFailed",
        "fields": [{"field": "buyerId", "code": "unknown_account"}],
    }
