"""The purchase survives crashes: each component is SIGKILLed at a chosen point of the
purchase-to-delivery flow and started again, then the marketplace's invariants are
checked (no licence or charge duplicated, every paid licence delivered, the ledger
sound, the audit log holding every event once).

The stack here is the fault tests' own (`fault_stack`), on its own database and bucket,
so killing its processes never disturbs another test. Kill points are held through the
database (see `tests.fixtures.faults`), never guessed by timing.
"""

import asyncio
import json
import os
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from assent.protocol import verify_envelope
from services.contracts.delivery import IN_TOTO_PAYLOAD_TYPE
from services.contracts.signing import WELL_KNOWN_KEYS_PATH, Envelope, PublishedKeys
from tests.e2e.faulted import (
    PURCHASE_OR_UNAVAILABLE,
    assert_invariants_recorded,
    creator_with_works,
    issued,
    purchase_answered,
    typed_answer,
)
from tests.e2e.marketplace import (
    LICENCES,
    REGISTER_AUDITOR,
    assert_ledger_sound,
    cli,
    eur_balance,
    funded_buyer,
    proven_chain,
    quote_for,
    run_cli,
)
from tests.fixtures.faults import (
    database,
    eventually,
    freeze,
    kill,
    relay_paused,
    restart,
    table_locked,
    thaw,
)
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.stack import RunningStack

pytestmark = pytest.mark.stack

# A caller of a dead service is answered at once; of a frozen one, once the gateway's
# 10 s timeout to services runs out. Generous bounds for a busy two-core machine.
DEAD_SERVICE_ANSWER_SECONDS = 10.0
FROZEN_SERVICE_ANSWER_SECONDS = 25.0

LICENCES_OR_UNAVAILABLE = """{ licences(first: 10) { __typename
  ... on LicenceConnection { items { id } } ... on ServiceUnavailable { service message } } }"""
LICENCE_OR_UNAVAILABLE = """query($id: ID!) { licence(id: $id) { __typename
  ... on Licence { id } ... on ServiceUnavailable { service message } } }"""
MANIFEST = """query($id: ID!) { delivery(id: $id) { __typename ... on Delivery {
  status entryCount manifest } } }"""
SOLD = {"CONSENT", "OFFER", "LICENCE", "PAYMENT", "DELIVERY"}


@pytest.fixture
async def gateway(fault_stack: RunningStack) -> AsyncIterator[GraphQLClient]:
    client = GraphQLClient(fault_stack.graphql_url)
    try:
        yield client
    finally:
        await client.http.aclose()


async def timed(
    gateway: GraphQLClient, query: str, variables: dict[str, Any], key: str
) -> tuple[float, httpx.Response]:
    started = time.monotonic()
    response = await gateway.post(query, variables, key=key)
    return time.monotonic() - started, response


async def test_licensing_killed_after_purchases_commit_before_relay_delivers_each_once(
    gateway: GraphQLClient, fault_stack: RunningStack
) -> None:
    admin = fault_stack.admin_key
    works = await creator_with_works(gateway, 2, "Kill Licensing")
    _, lab = await funded_buyer(gateway, admin, "Outbox Lab", 100_000)
    quotes = [await quote_for(gateway, lab, works) for _ in range(4)]
    keys = [f"order-{uuid.uuid4()}" for _ in quotes]
    first: dict[str, str] = {}

    async with relay_paused(fault_stack, "licensing"):
        for quote, key in zip(quotes, keys, strict=True):
            bought = await purchase_answered(gateway, lab, quote["id"], key)
            assert bought["__typename"] == "PurchaseSucceeded", bought
            assert not bought["replayed"]
            first[key] = bought["licence"]["id"]
        # Committed with their events, none of which has left licensing.
        async with database(fault_stack) as db:
            waiting = await db.fetch(
                """SELECT payload->>'licence_id' AS licence, destination
                   FROM licensing.outbox_delivery
                   WHERE topic = 'licence.granted' AND delivered_at IS NULL"""
            )
        expected = {(licence, to) for licence in first.values() for to in ("delivery", "audit")}
        assert expected <= {(row["licence"], row["destination"]) for row in waiting}
        kill(fault_stack, "licensing")
    await restart(fault_stack, "licensing")

    # The same keys after the crash: the same licences, replayed, nothing charged again.
    for quote, key in zip(quotes, keys, strict=True):
        again = await purchase_answered(gateway, lab, quote["id"], key)
        assert again["__typename"] == "PurchaseSucceeded", again
        assert again["replayed"]
        assert again["licence"]["id"] == first[key]
    for licence_id in first.values():
        licence = await issued(gateway, lab, licence_id)
        assert licence["delivery"]["status"] == "ISSUED"
        assert licence["delivery"]["entryCount"] == 2
    total = quotes[0]["total"]["amountMinor"]
    assert await eur_balance(gateway, lab) == 100_000 - 4 * total
    await assert_ledger_sound(gateway, admin)
    await assert_invariants_recorded(fault_stack)


async def test_delivery_killed_while_building_issues_the_delivery_once_and_it_verifies(
    gateway: GraphQLClient, fault_stack: RunningStack
) -> None:
    admin = fault_stack.admin_key
    works = await creator_with_works(gateway, 5, "Kill Delivery")
    _, lab = await funded_buyer(gateway, admin, "Builder Lab", 100_000)
    quote = await quote_for(gateway, lab, works)

    async with table_locked(fault_stack, "delivery", "delivery_entry") as held:
        bought = await purchase_answered(gateway, lab, quote["id"], f"order-{uuid.uuid4()}")
        licence_id = bought["licence"]["id"]
        # The builder has claimed the delivery and signed nothing yet: it waits to write
        # the manifest's entries, inside its transaction.
        await eventually(held.writers_waiting, what="the delivery builder inside its build")
        async with database(fault_stack) as db:
            status = await db.fetchval(
                "SELECT status FROM delivery.delivery WHERE licence_id = $1",
                uuid.UUID(licence_id),
            )
        assert status == "building"
        kill(fault_stack, "delivery")
    await restart(fault_stack, "delivery")

    licence = await issued(gateway, lab, licence_id)
    delivery = licence["delivery"]
    assert (delivery["status"], delivery["entryCount"]) == ("ISSUED", 5)
    found = typed_answer(
        (await timed(gateway, MANIFEST, {"id": delivery["id"]}, lab))[1], "delivery"
    )
    async with httpx.AsyncClient() as http:
        published = PublishedKeys.model_validate_json(
            (await http.get(fault_stack.stack.gateway_url + WELL_KNOWN_KEYS_PATH)).content
        )
    envelope = Envelope.model_validate(found["manifest"])
    payload, _ = verify_envelope(envelope, published.keys, payload_type=IN_TOTO_PAYLOAD_TYPE)
    subjects = {subject["digest"]["sha256"] for subject in json.loads(payload)["subject"]}
    async with database(fault_stack) as db:
        sold = await db.fetch(
            "SELECT sha256 FROM licensing.licence_line WHERE licence_id = $1",
            uuid.UUID(licence_id),
        )
    assert subjects == {row["sha256"] for row in sold}
    await assert_ledger_sound(gateway, admin)
    await assert_invariants_recorded(fault_stack)


async def test_audit_killed_while_appending_logs_every_event_once_and_verifies(
    gateway: GraphQLClient, fault_stack: RunningStack, tmp_path: Path
) -> None:
    admin = fault_stack.admin_key
    works = await creator_with_works(gateway, 2, "Kill Audit")
    _, lab = await funded_buyer(gateway, admin, "Burst Lab", 100_000)
    quotes = [await quote_for(gateway, lab, works) for _ in range(6)]

    async with table_locked(fault_stack, "audit", "log_entry") as held:
        burst = asyncio.gather(
            *(
                purchase_answered(gateway, lab, quote["id"], f"order-{uuid.uuid4()}")
                for quote in quotes
            )
        )
        # The sequencer has taken a batch of pending entries and waits to append them ...
        await eventually(held.writers_waiting, what="the audit sequencer inside an append")
        bought = await burst

        async def grants_received() -> bool:
            count = await held.connection.fetchval(
                "SELECT count(*) FROM audit.pending_entry WHERE topic = 'licence.granted'"
            )
            return int(count) >= len(quotes)

        # ... while every sale of the burst has reached the log's intake behind it.
        await eventually(grants_received, what="the burst received by the audit log")
        unsequenced = await held.connection.fetchval("SELECT count(*) FROM audit.pending_entry")
        kill(fault_stack, "audit")
        print(f"audit killed mid-append with {unsequenced} entries received, not yet logged")
    await restart(fault_stack, "audit")
    assert {result["__typename"] for result in bought} == {"PurchaseSucceeded"}, bought

    await assert_ledger_sound(gateway, admin)
    await assert_invariants_recorded(fault_stack)

    # A fresh export of a sold work's chain verifies offline.
    auditor = (
        await gateway.execute(
            REGISTER_AUDITOR,
            {
                "input": {
                    "name": "Fault Auditor",
                    "email": f"fault-{uuid.uuid4().hex[:6]}@example.org",
                    "role": "AUDITOR",
                }
            },
            key=admin,
        )
    )["register"]["apiKey"]["secret"]
    await proven_chain(gateway, auditor, SOLD, work=works[0])
    gateway_url = fault_stack.stack.gateway_url
    env = {**os.environ, "ASSENT_API_KEY": auditor, "ASSENT_GATEWAY_URL": gateway_url}
    exported = await run_cli(
        cli("audit", "export", "--work", works[0], "--to", str(tmp_path)), env=env
    )
    assert exported.returncode == 0, exported.stdout + exported.stderr
    keys = tmp_path / "keys.json"
    async with httpx.AsyncClient() as http:
        keys.write_bytes((await http.get(gateway_url + WELL_KNOWN_KEYS_PATH)).content)
    document = tmp_path / f"chain-work-{works[0]}.json"
    verified = await run_cli(cli("verify", str(document), "--keys", str(keys)))
    assert verified.returncode == 0, verified.stdout + verified.stderr


async def test_gateway_killed_mid_request_retries_make_one_licence_per_key(
    gateway: GraphQLClient, fault_stack: RunningStack
) -> None:
    admin = fault_stack.admin_key
    works = await creator_with_works(gateway, 1, "Kill Gateway")
    _, lab = await funded_buyer(gateway, admin, "Retry Lab", 100_000)
    quotes = [await quote_for(gateway, lab, works) for _ in range(5)]
    keys = [f"order-{uuid.uuid4()}" for _ in quotes]

    async def first_try(quote_id: str, key: str) -> httpx.Response:
        return await gateway.post(PURCHASE_OR_UNAVAILABLE, {"quote": quote_id, "key": key}, key=lab)

    async with table_locked(fault_stack, "licensing", "licence") as held:
        calls = [
            asyncio.create_task(first_try(quote["id"], key))
            for quote, key in zip(quotes, keys, strict=True)
        ]

        async def all_in_flight() -> bool:
            # Every purchase is inside licensing's transaction, waiting on the lock (the
            # first on the table, the rest behind it on the buyer's balance).
            count = await held.connection.fetchval(
                """SELECT count(*) FROM pg_stat_activity
                   WHERE datname = current_database() AND wait_event_type = 'Lock'"""
            )
            return int(count) >= len(calls)

        await eventually(all_in_flight, what="every purchase in flight")
        kill(fault_stack, "gateway")
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
    await restart(fault_stack, "gateway")
    # No answer came: the gateway died with every request in flight.
    assert all(isinstance(outcome, httpx.TransportError) for outcome in outcomes), outcomes

    licences = {}
    for quote, key in zip(quotes, keys, strict=True):
        retried = await purchase_answered(gateway, lab, quote["id"], key)
        assert retried["__typename"] == "PurchaseSucceeded", retried
        again = await purchase_answered(gateway, lab, quote["id"], key)
        assert again["replayed"]
        assert again["licence"]["id"] == retried["licence"]["id"]
        licences[key] = retried["licence"]["id"]
        # Whether licensing finished the purchase after the gateway died (a replay) or
        # the retry bought it: either way, one licence for the key.
        print(f"key {key}: {'replayed' if retried['replayed'] else 'bought on retry'}")
    assert len(set(licences.values())) == len(keys)
    listed = typed_answer((await timed(gateway, LICENCES, {}, lab))[1], "licences")["items"]
    assert {item["id"] for item in listed} == set(licences.values())
    price = quotes[0]["total"]["amountMinor"]
    assert await eur_balance(gateway, lab) == 100_000 - len(keys) * price
    await assert_ledger_sound(gateway, admin)
    await assert_invariants_recorded(fault_stack)


async def test_a_dead_service_answers_service_unavailable_and_its_backlog_drains_on_restart(
    gateway: GraphQLClient, fault_stack: RunningStack
) -> None:
    admin = fault_stack.admin_key
    works = await creator_with_works(gateway, 1, "Kill Licensing Again")
    _, lab = await funded_buyer(gateway, admin, "Patient Lab", 100_000)
    sold, unsold = [await quote_for(gateway, lab, works) for _ in range(2)]

    # The delivery's news for licensing cannot leave before licensing is down.
    async with relay_paused(fault_stack, "delivery"):
        bought = await purchase_answered(gateway, lab, sold["id"], f"order-{uuid.uuid4()}")
        licence_id = uuid.UUID(bought["licence"]["id"])

        async def delivery_issued() -> bool:
            async with database(fault_stack) as db:
                status = await db.fetchval(
                    "SELECT status FROM delivery.delivery WHERE licence_id = $1", licence_id
                )
            return bool(status == "issued")

        await eventually(delivery_issued, what="the delivery issued")
        kill(fault_stack, "licensing")

    async def retried_with_backoff() -> bool:
        async with database(fault_stack) as db:
            attempts = await db.fetchval(
                """SELECT attempts FROM delivery.outbox_delivery
                   WHERE destination = 'licensing' AND topic = 'delivery.issued'
                     AND payload->>'licence_id' = $1 AND delivered_at IS NULL""",
                str(licence_id),
            )
        return attempts is not None and attempts >= 2

    await eventually(retried_with_backoff, what="the relay retrying licensing")

    # Typed, prompt answers while licensing is down: no 500, no hang.
    key = f"order-{uuid.uuid4()}"
    answers = [
        (field, await timed(gateway, query, variables, lab))
        for query, variables, field in (
            (PURCHASE_OR_UNAVAILABLE, {"quote": unsold["id"], "key": key}, "purchase"),
            (LICENCES_OR_UNAVAILABLE, {}, "licences"),
            (LICENCE_OR_UNAVAILABLE, {"id": str(licence_id)}, "licence"),
        )
    ]
    await restart(fault_stack, "licensing")
    for field, (elapsed, response) in answers:
        answer = typed_answer(response, field)
        assert answer["__typename"] == "ServiceUnavailable", answer
        assert answer["service"] == "licensing"
        assert elapsed < DEAD_SERVICE_ANSWER_SECONDS, f"{field} took {elapsed:.1f} s"

    async def drained() -> bool:
        async with database(fault_stack) as db:
            backlog = await db.fetchval(
                """SELECT count(*) FROM delivery.outbox_delivery
                   WHERE destination = 'licensing' AND delivered_at IS NULL"""
            )
        return bool(backlog == 0)

    await eventually(drained, what="delivery's backlog for licensing drained")
    # The purchase refused while licensing was down was never recorded: it goes through.
    later = await purchase_answered(gateway, lab, unsold["id"], key)
    assert later["__typename"] == "PurchaseSucceeded", later
    assert not later["replayed"]
    await assert_ledger_sound(gateway, admin)
    await assert_invariants_recorded(fault_stack)


async def test_a_frozen_service_answers_service_unavailable_within_the_timeout(
    gateway: GraphQLClient, fault_stack: RunningStack
) -> None:
    _, lab = await funded_buyer(gateway, fault_stack.admin_key, "Frozen Lab", 1_000)
    freeze(fault_stack, "licensing")
    try:
        elapsed, response = await timed(gateway, LICENCES_OR_UNAVAILABLE, {}, lab)
    finally:
        thaw(fault_stack, "licensing")
    answer = typed_answer(response, "licences")
    assert answer["__typename"] == "ServiceUnavailable", answer
    assert elapsed < FROZEN_SERVICE_ANSWER_SECONDS, f"licences took {elapsed:.1f} s"
    after = typed_answer((await timed(gateway, LICENCES_OR_UNAVAILABLE, {}, lab))[1], "licences")
    assert after["__typename"] == "LicenceConnection", after
    await assert_ledger_sound(gateway, fault_stack.admin_key)
    await assert_invariants_recorded(fault_stack)
