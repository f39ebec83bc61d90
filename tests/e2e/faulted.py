"""A client's steps while the stack is under a fault: retried while the stack comes back,
answered with a typed result or not at all."""

from typing import Any

import httpx

from tests.e2e.marketplace import LICENCE, listed_work, register
from tests.fixtures.faults import assert_invariants, eventually
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.stack import RunningStack

PURCHASE_OR_UNAVAILABLE = """mutation($quote: ID!, $key: String!) {
  purchase(quoteId: $quote, idempotencyKey: $key) { __typename
    ... on PurchaseSucceeded { replayed licence { id } }
    ... on ServiceUnavailable { service message } ... on Error { message } } }"""


def typed_answer(response: httpx.Response, field: str) -> dict[str, Any]:
    """The payload of a GraphQL answer that must be a typed result: HTTP 200, no errors."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert not body.get("errors"), body
    result: dict[str, Any] = body["data"][field]
    return result


async def purchase_answered(
    gateway: GraphQLClient,
    key: str,
    quote_id: str,
    idempotency_key: str,
    *,
    server_errors: list[str] | None = None,
) -> dict[str, Any]:
    """A client's purchase, retried with the same idempotency key while the gateway or
    licensing is still coming back (no answer, or a typed ServiceUnavailable). Given
    `server_errors`, an HTTP 5xx is retried too, as a client unsure of the outcome would,
    and recorded there for the test to judge."""

    async def attempt() -> dict[str, Any] | None:
        try:
            response = await gateway.post(
                PURCHASE_OR_UNAVAILABLE, {"quote": quote_id, "key": idempotency_key}, key=key
            )
        except httpx.TransportError:
            return None
        if server_errors is not None and response.status_code >= 500:
            server_errors.append(f"HTTP {response.status_code}: {response.text[:200]}")
            return None
        result = typed_answer(response, "purchase")
        return None if result["__typename"] == "ServiceUnavailable" else result

    return await eventually(attempt, what=f"an answer to purchase {idempotency_key}")


async def issued(gateway: GraphQLClient, key: str, licence_id: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        try:
            response = await gateway.post(LICENCE, {"id": licence_id}, key=key)
        except httpx.TransportError:
            return None
        licence: dict[str, Any] = response.json()["data"]["licence"]
        if licence["__typename"] != "Licence":
            return None
        delivery = licence["delivery"]
        return licence if delivery is not None and delivery["status"] != "BUILDING" else None

    return await eventually(probe, what=f"licence {licence_id} delivered")


async def creator_with_works(gateway: GraphQLClient, count: int, name: str) -> list[str]:
    _, creator = await register(gateway, "CREATOR", name)
    return [
        await listed_work(gateway, creator, price=1_000 + index, title=f"{name} {index}")
        for index in range(count)
    ]


async def assert_invariants_recorded(fault_stack: RunningStack) -> None:
    counts = await assert_invariants(fault_stack)
    print(f"invariants hold: {counts}")
