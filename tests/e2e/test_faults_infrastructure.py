"""The purchase survives faults of what the services stand on: PostgreSQL connections cut
under a stream of purchases, the catalogue killed while sales wait for their deliveries,
and a service's disk full. Afterwards the same invariants as the crash tests: one licence
and one charge per purchase, every paid line delivered or refunded once, the audit log
complete, the ledger sound.

A full disk is simulated on PostgreSQL rather than made with a small filesystem: the
shared server must not be touched (its WAL and tablespaces are everyone's), and a trigger
deferred to COMMIT fails exactly the step a service must not report as done, with the
error a full disk gives (SQLSTATE 53100), while reads go on as they do on a full disk.
"""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.e2e.faulted import (
    PURCHASE_OR_UNAVAILABLE,
    assert_invariants_recorded,
    creator_with_works,
    issued,
    purchase_answered,
    typed_answer,
)
from tests.e2e.marketplace import (
    SEARCH,
    TOP_UP,
    assert_ledger_sound,
    eur_balance,
    funded_buyer,
    listed_work,
    quote_for,
    register,
)
from tests.fixtures.faults import (
    cut_connections,
    database,
    disk_full,
    eventually,
    kill,
    relay_paused,
    restart,
)
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.stack import RunningStack

pytestmark = pytest.mark.stack

FUNDS = 100_000
# A caller of a dead service is answered at once: generous for a busy two-core machine.
DEAD_SERVICE_ANSWER_SECONDS = 10.0
CUT_EVERY_SECONDS = 0.3
REGISTER_ANSWER = """mutation($input: RegisterInput!) { register(input: $input) { __typename } }"""


@pytest.fixture
async def gateway(fault_stack: RunningStack) -> AsyncIterator[GraphQLClient]:
    client = GraphQLClient(fault_stack.graphql_url)
    try:
        yield client
    finally:
        await client.http.aclose()


async def assert_each_delivered_once(
    gateway: GraphQLClient, lab: str, licences: list[str], *, works: int
) -> None:
    for licence_id in licences:
        licence = await issued(gateway, lab, licence_id)
        assert (licence["delivery"]["status"], licence["delivery"]["entryCount"]) == (
            "ISSUED",
            works,
        ), licence


async def test_database_connections_cut_during_a_stream_of_purchases(
    gateway: GraphQLClient, fault_stack: RunningStack
) -> None:
    admin = fault_stack.admin_key
    works = await creator_with_works(gateway, 2, "Cut Connections")
    labs = [(await funded_buyer(gateway, admin, f"Cut Lab {n}", FUNDS))[1] for n in range(3)]
    orders = {
        lab: [(await quote_for(gateway, lab, works), f"order-{uuid.uuid4()}") for _ in range(4)]
        for lab in labs
    }
    cuts: list[int] = []
    server_errors: list[str] = []
    streaming = asyncio.Event()

    async def cut_while_streaming() -> None:
        while not streaming.is_set():
            cuts.append(await cut_connections(fault_stack))
            await asyncio.sleep(CUT_EVERY_SECONDS)

    async def buy_in_turn(lab: str) -> list[dict[str, Any]]:
        return [
            await purchase_answered(gateway, lab, quote["id"], key, server_errors=server_errors)
            for quote, key in orders[lab]
        ]

    cutter = asyncio.create_task(cut_while_streaming())
    try:
        bought = dict(zip(labs, await asyncio.gather(*map(buy_in_turn, labs)), strict=True))
    finally:
        streaming.set()
        await cutter
    assert sum(cuts) > 0, "no connection was cut while the purchases ran"

    for lab in labs:
        assert {answer["__typename"] for answer in bought[lab]} == {"PurchaseSucceeded"}
        for (quote, key), first in zip(orders[lab], bought[lab], strict=True):
            again = await purchase_answered(gateway, lab, quote["id"], key)
            assert again["replayed"]
            assert again["licence"]["id"] == first["licence"]["id"]
        licences = [answer["licence"]["id"] for answer in bought[lab]]
        assert len(set(licences)) == len(licences)
        await assert_each_delivered_once(gateway, lab, licences, works=2)
        total = orders[lab][0][0]["total"]["amountMinor"]
        assert await eur_balance(gateway, lab) == FUNDS - len(licences) * total
    print(f"connections cut: {cuts}")
    await assert_ledger_sound(gateway, admin)
    await assert_invariants_recorded(fault_stack)
    # A lost connection costs at most a typed, retryable answer, never a bare error.
    assert server_errors == []


async def test_catalogue_killed_while_sales_wait_for_delivery(
    gateway: GraphQLClient, fault_stack: RunningStack
) -> None:
    admin = fault_stack.admin_key
    works = await creator_with_works(gateway, 3, "Kill Catalogue")
    _, lab = await funded_buyer(gateway, admin, "Catalogue Lab", FUNDS)
    quotes = [await quote_for(gateway, lab, works) for _ in range(5)]
    keys = [f"order-{uuid.uuid4()}" for _ in quotes]

    # Sales commit and wait in licensing's outbox; their deliveries are built (reading
    # the catalogue) only once the catalogue is gone.
    async with relay_paused(fault_stack, "licensing"):
        first = [
            await purchase_answered(gateway, lab, quote["id"], key)
            for quote, key in zip(quotes[:3], keys[:3], strict=True)
        ]
        kill(fault_stack, "catalogue")
    # More purchases of quotes already made, with the catalogue down: sold, or refused
    # with a typed answer, never lost.
    during = [
        typed_answer(
            await gateway.post(
                PURCHASE_OR_UNAVAILABLE, {"quote": quote["id"], "key": key}, key=lab
            ),
            "purchase",
        )
        for quote, key in zip(quotes[3:], keys[3:], strict=True)
    ]
    assert {answer["__typename"] for answer in during} <= {
        "PurchaseSucceeded",
        "ServiceUnavailable",
    }, during
    started = time.monotonic()
    searched = typed_answer(await gateway.post(SEARCH, {"first": 5}, key=lab), "works")
    assert searched["__typename"] == "ServiceUnavailable", searched
    assert time.monotonic() - started < DEAD_SERVICE_ANSWER_SECONDS
    # An account registered now reaches the catalogue through the outbox once it is back.
    _, newcomer = await register(gateway, "CREATOR", "Newcomer While Down")
    await restart(fault_stack, "catalogue")

    later = [
        await purchase_answered(gateway, lab, quote["id"], key)
        for quote, key in zip(quotes[3:], keys[3:], strict=True)
    ]
    licences = [answer["licence"]["id"] for answer in first + later]
    assert {answer["__typename"] for answer in first + later} == {"PurchaseSucceeded"}
    assert len(set(licences)) == len(quotes)
    for answer, before in zip(later, during, strict=True):
        if before["__typename"] == "PurchaseSucceeded":
            assert answer["licence"]["id"] == before["licence"]["id"]
    await assert_each_delivered_once(gateway, lab, licences, works=3)
    total = quotes[0]["total"]["amountMinor"]
    assert await eur_balance(gateway, lab) == FUNDS - len(quotes) * total
    assert await listed_work(gateway, newcomer, price=700, title="Made after the restart")
    await assert_ledger_sound(gateway, admin)
    await assert_invariants_recorded(fault_stack)


def assert_not_done(response: httpx.Response, field: str, success: str) -> None:
    """A write that could not commit is answered with a typed refusal, or with an error
    coded COMMIT_FAILED, and never with its success."""
    assert response.status_code == 200, response.text
    body = response.json()
    answer = (body.get("data") or {}).get(field)
    if answer is None:
        assert {error["extensions"]["code"] for error in body["errors"]} == {"COMMIT_FAILED"}
    else:
        assert not body.get("errors"), body
        assert answer["__typename"] != success, body


async def relay_failed_towards(fault_stack: RunningStack, destination: str) -> bool:
    """Whether some event to `destination` has been sent and refused at least once."""
    async with database(fault_stack) as db:
        failed = await db.fetchval(
            """SELECT count(*) FROM licensing.outbox_delivery
               WHERE destination = $1 AND delivered_at IS NULL AND attempts > 0""",
            destination,
        )
    return bool(failed)


@pytest.mark.parametrize("service", ["licensing", "delivery", "audit", "gateway"])
async def test_a_service_whose_disk_is_full_loses_and_duplicates_nothing(
    gateway: GraphQLClient, fault_stack: RunningStack, service: str
) -> None:
    admin = fault_stack.admin_key
    works = await creator_with_works(gateway, 2, f"Full {service}")
    lab_id, lab = await funded_buyer(gateway, admin, f"Full {service} Lab", FUNDS)
    quotes = [await quote_for(gateway, lab, works) for _ in range(3)]
    keys = [f"order-{uuid.uuid4()}" for _ in quotes]

    async with disk_full(fault_stack, service):
        during = [
            typed_answer(
                await gateway.post(
                    PURCHASE_OR_UNAVAILABLE, {"quote": quote["id"], "key": key}, key=lab
                ),
                "purchase",
            )
            for quote, key in zip(quotes, keys, strict=True)
        ]
        if service == "licensing":
            # Nothing licensing does can commit: no purchase may be answered as made.
            assert "PurchaseSucceeded" not in {answer["__typename"] for answer in during}
        else:
            assert {answer["__typename"] for answer in during} == {"PurchaseSucceeded"}, during
        # A write the full service owns is never answered as done: a top-up that was not
        # credited, an API key that was never stored.
        if service == "licensing":
            credit = {"buyer": lab_id, "amount": 5_000, "ref": f"wire-{uuid.uuid4().hex[:8]}"}
            response = await gateway.post(TOP_UP, credit, key=admin)
            assert_not_done(response, "topUp", "MoneyRecorded")
        if service == "gateway":
            newcomer = {"name": "Full Disk", "email": f"{uuid.uuid4().hex[:8]}@example.org"}
            response = await gateway.post(REGISTER_ANSWER, {"input": {**newcomer, "role": "BUYER"}})
            assert_not_done(response, "register", "Registered")
        if service in ("delivery", "audit"):
            # The sales' news has reached the full service and been refused.
            await eventually(
                lambda: relay_failed_towards(fault_stack, service),
                what=f"licensing's relay refused by {service}",
            )

    after = [
        await purchase_answered(gateway, lab, quote["id"], key)
        for quote, key in zip(quotes, keys, strict=True)
    ]
    assert {answer["__typename"] for answer in after} == {"PurchaseSucceeded"}, after
    for answer, before in zip(after, during, strict=True):
        if before["__typename"] == "PurchaseSucceeded":
            assert answer["replayed"]
            assert answer["licence"]["id"] == before["licence"]["id"]
    licences = [answer["licence"]["id"] for answer in after]
    assert len(set(licences)) == len(quotes)
    await assert_each_delivered_once(gateway, lab, licences, works=2)
    total = quotes[0]["total"]["amountMinor"]
    assert await eur_balance(gateway, lab) == FUNDS - len(quotes) * total
    await assert_ledger_sound(gateway, admin)
    await assert_invariants_recorded(fault_stack)
