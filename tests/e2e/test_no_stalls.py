"""One slow receiver never holds up the others, and the embedded default never stalls.

With the audit service frozen for 10 s, every sale made in the freeze's first half is
delivered before audit runs again, and once it runs its log catches up with every event
once. The embedded default (`assent up`: SQLite and the local store) serves eight labs
buying at once with every call answered by its success and none `ServiceUnavailable`.

How long a buyer waits in each case is a speed target, measured by benches, not bounded
here: `bench/embedded_labs.py` for the eight labs; the figures these tests print are for
reading only.
"""

import asyncio
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import pytest

from tests.e2e.embedded import EmbeddedStack
from tests.e2e.faulted import assert_invariants_recorded, creator_with_works
from tests.e2e.marketplace import (
    CREATE_BUNDLE,
    PURCHASE,
    QUOTE,
    TOP_UP,
    TRAINING,
    assert_ledger_sound,
    delivered,
    funded_buyer,
    listed_work,
    quote_for,
    register,
)
from tests.fixtures.faults import database, freeze, thaw
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.stack import RunningStack

pytestmark = pytest.mark.stack

FROZEN_SECONDS = 10.0
LABS = 8
ROUNDS = 3


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[98]


@pytest.fixture
async def gateway(fault_stack: RunningStack) -> AsyncIterator[GraphQLClient]:
    client = GraphQLClient(fault_stack.graphql_url)
    try:
        yield client
    finally:
        await client.http.aclose()


async def bought_at(gateway: GraphQLClient, lab: str, quote_id: str) -> tuple[uuid.UUID, float]:
    """The licence bought, and when (epoch seconds) the buyer sent the purchase."""
    sent_at = time.time()
    bought = await gateway.execute(
        PURCHASE, {"quote": quote_id, "key": f"order-{uuid.uuid4()}"}, key=lab
    )
    assert bought["purchase"]["__typename"] == "PurchaseSucceeded", bought
    return uuid.UUID(bought["purchase"]["licence"]["id"]), sent_at


async def issued_at(fault_stack: RunningStack, licences: list[uuid.UUID]) -> dict[uuid.UUID, float]:
    """When each licence's delivery was issued (epoch seconds), as delivery recorded it."""
    async with database(fault_stack) as db:
        rows = await db.fetch(
            """SELECT licence_id, extract(epoch FROM issued_at) AS issued
               FROM delivery.delivery WHERE licence_id = ANY($1::uuid[])
               AND issued_at IS NOT NULL""",
            licences,
        )
    return {row["licence_id"]: float(row["issued"]) for row in rows}


async def test_sales_are_delivered_while_audit_is_frozen(
    gateway: GraphQLClient, fault_stack: RunningStack
) -> None:
    admin = fault_stack.admin_key
    works = await creator_with_works(gateway, 2, "Frozen Audit")
    labs = [(await funded_buyer(gateway, admin, f"Thaw Lab {n}", 200_000))[1] for n in range(4)]
    quotes = {lab: [await quote_for(gateway, lab, works) for _ in range(8)] for lab in labs}
    # Each lab's purchases spread over the freeze's first half; the second half is the
    # time the last of them has to be delivered while audit is still frozen.
    spacing = FROZEN_SECONDS / 2 / len(quotes[labs[0]])

    async def buy_while_frozen(lab: str) -> list[tuple[uuid.UUID, float]]:
        sales = []
        for quote in quotes[lab]:
            sales.append(await bought_at(gateway, lab, quote["id"]))
            await asyncio.sleep(spacing)
        return sales

    freeze(fault_stack, "audit")
    try:
        thaws_at = time.monotonic() + FROZEN_SECONDS
        sales = dict(
            sale
            for lab_sales in await asyncio.gather(*map(buy_while_frozen, labs))
            for sale in lab_sales
        )
        issued = await issued_at(fault_stack, list(sales))
        while len(issued) < len(sales) and time.monotonic() < thaws_at:
            await asyncio.sleep(0.2)
            issued = await issued_at(fault_stack, list(sales))
        # Counted before the thaw: a relay that waits for audit delivers nothing until then.
        undelivered = len(sales) - len(issued)
        await asyncio.sleep(max(0.0, thaws_at - time.monotonic()))
    finally:
        thaw(fault_stack, "audit")
    assert undelivered == 0, f"{undelivered} of {len(sales)} sales waited for audit"
    # The audit log catches up: every event relayed to it, once, at consecutive leaves.
    await assert_ledger_sound(gateway, admin)
    await assert_invariants_recorded(fault_stack)
    waits = [issued[licence] - sent_at for licence, sent_at in sales.items()]
    print(f"{len(waits)} deliveries while audit was frozen: p99 {p99(waits):.3f} s")


async def test_eight_labs_buying_at_once_on_the_embedded_default(
    embedded_stack: EmbeddedStack,
) -> None:
    gateway = GraphQLClient(embedded_stack.graphql_url)
    admin = embedded_stack.admin_key
    try:
        _, creator = await register(gateway, "CREATOR", "Embedded Creator")
        works = [
            await listed_work(gateway, creator, price=500 + n, title=f"Embedded {n}")
            for n in range(3)
        ]
        labs = [
            await funded_buyer(gateway, admin, f"Embedded Lab {n}", 50_000) for n in range(LABS)
        ]
        waits: list[tuple[float, str]] = []
        licences: list[tuple[str, str]] = []

        async def call(
            field: str, expected: str, query: str, variables: dict[str, Any], key: str
        ) -> dict[str, Any]:
            """The answer's `field`, which must be `expected`; its wait is recorded."""
            started = time.monotonic()
            response = await gateway.post(query, variables, key=key)
            waits.append((time.monotonic() - started, field))
            assert "ServiceUnavailable" not in response.text, response.text
            body = response.json()
            assert response.status_code == 200, body
            assert not body.get("errors"), body
            answer: dict[str, Any] = body["data"][field]
            assert answer["__typename"] == expected, body
            return answer

        async def lab_rounds(buyer_id: str, lab: str) -> None:
            for round_number in range(ROUNDS):
                bundle_input = {"name": "embedded", "uses": TRAINING, "workIds": works}
                bundle = await call(
                    "createBundle", "BundleCreated", CREATE_BUNDLE, {"input": bundle_input}, lab
                )
                quoted = await call(
                    "quoteBundle", "QuoteIssued", QUOTE, {"id": bundle["bundle"]["id"]}, lab
                )
                order = {"quote": quoted["quote"]["id"], "key": str(uuid.uuid4())}
                bought = await call("purchase", "PurchaseSucceeded", PURCHASE, order, lab)
                licences.append((lab, bought["licence"]["id"]))
                credit = {
                    "buyer": buyer_id,
                    "amount": 1_000,
                    "ref": f"wire-{round_number}-{buyer_id}",
                }
                await call("topUp", "MoneyRecorded", TOP_UP, credit, admin)

        runs: list[Awaitable[None]] = [lab_rounds(buyer_id, lab) for buyer_id, lab in labs]
        await asyncio.gather(*runs)
        seconds = [wait for wait, _ in waits]
        print(f"{len(waits)} calls by {LABS} labs: p99 {p99(seconds):.3f} s, slowest {max(waits)}")
        for lab, licence_id in licences:
            licence = await delivered(gateway, lab, licence_id)
            assert licence["delivery"]["status"] == "ISSUED", licence
        await assert_ledger_sound(gateway, admin)
    finally:
        await gateway.http.aclose()
