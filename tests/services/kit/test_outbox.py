import asyncio
import json
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.routing import Mount

from services.contracts.events import (
    PUBLISHERS,
    SUBSCRIBERS,
    AccountRegistered,
    EventEnvelope,
    Topic,
)
from services.contracts.roles import Role
from services.kit.app import create_service_app
from services.kit.client import HttpxTransport
from services.kit.db import create_engine, create_sessionmaker, on_commit, utcnow
from services.kit.errors import InvalidRequest
from services.kit.internal_token import TokenSigner
from services.kit.outbox import (
    InboxEvent,
    OutboxDelivery,
    OutboxRelay,
    RelayWakeups,
    backoff,
    emit,
    pending_count,
)
from services.kit.settings import ServiceSettings
from tests.fixtures.internal_keys import key_settings, signer

# The outbox is exercised with a topic only the audit log receives, so the assertions do
# not depend on which services subscribe to account events.
AUDIT_ONLY_TOPIC = next(
    topic
    for topic, receivers in SUBSCRIBERS.items()
    if receivers == ("audit",) and PUBLISHERS[topic] == "catalogue"
)
OTHER_TOPIC = next(topic for topic in Topic if topic != AUDIT_ONLY_TOPIC)

# The catalogue's key of another deployment: its tokens name the issuer but fail the key.
FOREIGN = TokenSigner(Ed25519PrivateKey.generate(), issuer="catalogue")
AUDIT_URL = "http://audit.internal"


def _posted_ids(content: bytes) -> list[uuid.UUID]:
    body = json.loads(content)
    envelopes = body.get("events", [body])
    return [uuid.UUID(envelope["id"]) for envelope in envelopes]


@dataclass(frozen=True)
class Posted:
    path: str
    event_ids: list[uuid.UUID]
    size: int


class Receiver(httpx.AsyncBaseTransport):
    """A service built on the kit that receives the audit log's events, in the audit
    schema, without the audit log's own logic, so that these tests hold whatever the
    log does with an event.

    Its handler records each event once the receiving transaction commits (`handled`),
    and refuses the events in `refused` as a handler refusing a bad event would. As a
    transport it records what each request carried (`posted`), and `answer` may answer
    a request itself with a status, as a failing or an older receiver would.
    """

    def __init__(self, database_url: str) -> None:
        self.handled: list[EventEnvelope] = []
        self.refused: set[uuid.UUID] = set()
        self.posted: list[Posted] = []
        self.answer: Callable[[httpx.Request], int | None] = lambda _request: None
        settings = ServiceSettings.model_validate(
            {
                "database_url": database_url,
                "database_schema": "audit",
                "database_pool_size": 2,
                **key_settings("audit"),
            }
        )
        self.app = create_service_app(
            "audit", settings, event_handlers={AUDIT_ONLY_TOPIC: self._handle}
        )
        self._transport = httpx.ASGITransport(app=self.app)

    async def _handle(self, session: AsyncSession, envelope: EventEnvelope) -> None:
        if envelope.id in self.refused:
            raise InvalidRequest(f"event {envelope.id} is refused")
        on_commit(session, lambda: self.handled.append(envelope))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        content = await request.aread()
        self.posted.append(Posted(request.url.path, _posted_ids(content), len(content)))
        status = self.answer(request)
        if status is not None:
            return httpx.Response(status, json={"error": "Canned", "detail": f"HTTP {status}"})
        return await self._transport.handle_async_request(request)

    def handled_of(self, event_ids: Iterable[uuid.UUID]) -> list[uuid.UUID]:
        """Which of `event_ids` were handled and committed, in the order they were."""
        wanted = set(event_ids)
        return [envelope.id for envelope in self.handled if envelope.id in wanted]

    def carrying(self, event_ids: Iterable[uuid.UUID]) -> list[Posted]:
        """The requests that carried any of `event_ids` (the outbox may hold others')."""
        wanted = set(event_ids)
        return [posted for posted in self.posted if wanted.intersection(posted.event_ids)]

    async def close(self) -> None:
        await self.app.state.http.aclose()
        await self.app.state.engine.dispose()


@pytest.fixture
async def receiver(migrated_postgres: str) -> AsyncIterator[Receiver]:
    """The receiving app in process; its lifespan (and so its own relay) is not run."""
    receiving = Receiver(migrated_postgres)
    try:
        yield receiving
    finally:
        await receiving.close()


@pytest.fixture
async def receiver_http(receiver: Receiver) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=receiver, base_url=AUDIT_URL) as client:
        yield client


@pytest.fixture
async def event_ids(
    catalogue_db: async_sessionmaker[AsyncSession],
    audit_db: async_sessionmaker[AsyncSession],
) -> AsyncIterator[list[uuid.UUID]]:
    """The events a test emits; their rows on both sides are deleted at the end."""
    ids: list[uuid.UUID] = []
    yield ids
    async with catalogue_db() as session:
        await session.execute(delete(OutboxDelivery).where(OutboxDelivery.event_id.in_(ids)))
        await session.commit()
    async with audit_db() as session:
        await session.execute(delete(InboxEvent).where(InboxEvent.event_id.in_(ids)))
        await session.commit()


def _relay(
    sessionmaker: async_sessionmaker[AsyncSession],
    http: httpx.AsyncClient,
    *,
    audit_url: str = AUDIT_URL,
    signed_by: TokenSigner | None = None,
    batch_size: int = 100,
    max_batch_bytes: int = 512 * 1024,
) -> OutboxRelay:
    return OutboxRelay(
        sessionmaker,
        source="catalogue",
        destinations={"audit": audit_url},
        signer=signed_by or signer("catalogue"),
        http=HttpxTransport(http),
        batch_size=batch_size,
        max_batch_bytes=max_batch_bytes,
    )


def _registered(name: str = "Lab") -> AccountRegistered:
    return AccountRegistered(account_id=uuid.uuid4(), name=name, roles=["buyer"])


async def _emit_committed(
    sessionmaker: async_sessionmaker[AsyncSession],
    event_ids: list[uuid.UUID],
    payload: AccountRegistered | None = None,
) -> uuid.UUID:
    async with sessionmaker() as session:
        event_id = emit(session, AUDIT_ONLY_TOPIC, payload or _registered())
        event_ids.append(event_id)
        await session.commit()
    return event_id


async def _deliveries(
    sessionmaker: async_sessionmaker[AsyncSession], event_id: uuid.UUID
) -> list[OutboxDelivery]:
    async with sessionmaker() as session:
        statement = select(OutboxDelivery).where(OutboxDelivery.event_id == event_id)
        return list((await session.scalars(statement)).all())


async def _delivery(
    sessionmaker: async_sessionmaker[AsyncSession], event_id: uuid.UUID
) -> OutboxDelivery:
    (row,) = await _deliveries(sessionmaker, event_id)
    return row


async def _receipts(
    audit_db: async_sessionmaker[AsyncSession], event_ids: Iterable[uuid.UUID]
) -> set[uuid.UUID]:
    async with audit_db() as session:
        statement = select(InboxEvent.event_id).where(InboxEvent.event_id.in_(list(event_ids)))
        return set((await session.scalars(statement)).all())


async def _pending(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        count, _oldest = await pending_count(session)
    return count


async def test_emit_in_a_rolled_back_transaction_writes_nothing(
    catalogue_db: async_sessionmaker[AsyncSession], event_ids: list[uuid.UUID]
) -> None:
    async with catalogue_db() as session:
        event_id = emit(session, AUDIT_ONLY_TOPIC, _registered())
        event_ids.append(event_id)
        await session.flush()
        await session.rollback()

    assert await _deliveries(catalogue_db, event_id) == []


async def test_emit_writes_one_pending_delivery_per_subscriber(
    catalogue_db: async_sessionmaker[AsyncSession], event_ids: list[uuid.UUID]
) -> None:
    payload = _registered("Acme Lab")

    event_id = await _emit_committed(catalogue_db, event_ids, payload)

    rows = await _deliveries(catalogue_db, event_id)
    assert sorted(row.destination for row in rows) == sorted(SUBSCRIBERS[AUDIT_ONLY_TOPIC])
    for row in rows:
        assert row.topic == AUDIT_ONLY_TOPIC.value
        assert row.payload == payload.model_dump(mode="json")
        assert row.delivered_at is None
        assert row.attempts == 0
        assert row.next_attempt_at <= utcnow()


async def test_committed_event_reaches_its_receiver(
    catalogue_db: async_sessionmaker[AsyncSession],
    receiver: Receiver,
    receiver_http: httpx.AsyncClient,
    event_ids: list[uuid.UUID],
) -> None:
    backlog = await _pending(catalogue_db)
    payload = _registered("Acme Lab")
    event_id = await _emit_committed(catalogue_db, event_ids, payload)
    async with catalogue_db() as session:
        pending, oldest = await pending_count(session)
    assert pending == backlog + 1
    assert oldest is not None
    assert oldest <= (await _delivery(catalogue_db, event_id)).occurred_at

    delivered = await _relay(catalogue_db, receiver_http).relay_once()

    assert delivered >= 1
    row = await _delivery(catalogue_db, event_id)
    assert row.delivered_at is not None
    assert row.last_error is None
    (envelope,) = [envelope for envelope in receiver.handled if envelope.id == event_id]
    assert envelope.topic == AUDIT_ONLY_TOPIC
    assert envelope.source == "catalogue"
    assert envelope.payload == payload.model_dump(mode="json")
    assert envelope.occurred_at == row.occurred_at
    assert await _pending(catalogue_db) == backlog


async def test_delivered_event_is_not_sent_again(
    catalogue_db: async_sessionmaker[AsyncSession],
    receiver: Receiver,
    receiver_http: httpx.AsyncClient,
    event_ids: list[uuid.UUID],
) -> None:
    event_id = await _emit_committed(catalogue_db, event_ids)
    relay = _relay(catalogue_db, receiver_http)
    await relay.relay_once()
    delivered_at = (await _delivery(catalogue_db, event_id)).delivered_at

    await relay.relay_once()

    assert (await _delivery(catalogue_db, event_id)).delivered_at == delivered_at
    assert receiver.handled_of([event_id]) == [event_id]
    assert len(receiver.carrying([event_id])) == 1


async def _forget_delivery(
    sessionmaker: async_sessionmaker[AsyncSession], event_ids: list[uuid.UUID]
) -> None:
    """As if the relay had died after the receiver answered but before it committed."""
    async with sessionmaker() as session:
        await session.execute(
            update(OutboxDelivery)
            .where(OutboxDelivery.event_id.in_(event_ids))
            .values(delivered_at=None)
        )
        await session.commit()


async def test_redelivered_event_is_handled_once(
    catalogue_db: async_sessionmaker[AsyncSession],
    audit_db: async_sessionmaker[AsyncSession],
    receiver: Receiver,
    receiver_http: httpx.AsyncClient,
    event_ids: list[uuid.UUID],
) -> None:
    event_id = await _emit_committed(catalogue_db, event_ids)
    relay = _relay(catalogue_db, receiver_http)
    await relay.relay_once()
    await _forget_delivery(catalogue_db, [event_id])

    await relay.relay_once()

    assert (await _delivery(catalogue_db, event_id)).delivered_at is not None
    assert len(receiver.carrying([event_id])) == 2
    assert receiver.handled_of([event_id]) == [event_id]
    assert await _receipts(audit_db, [event_id]) == {event_id}


def _envelope(event_id: uuid.UUID, topic: Topic = AUDIT_ONLY_TOPIC) -> EventEnvelope:
    return EventEnvelope(
        id=event_id,
        topic=topic,
        source="catalogue",
        occurred_at=utcnow(),
        payload=_registered().model_dump(mode="json"),
    )


def _service_token(
    signed_by: TokenSigner | None = None, roles: frozenset[Role] | None = None
) -> str:
    return (signed_by or signer("catalogue")).sign(
        subject="service:catalogue",
        roles=frozenset({Role.SERVICE}) if roles is None else roles,
        audience="audit",
    )


def _headers(token: str | None) -> dict[str, str]:
    headers = {"content-type": "application/json"}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    return headers


async def _post_event(
    http: httpx.AsyncClient, event_id: uuid.UUID, token: str | None
) -> httpx.Response:
    return await http.post(
        "/internal/events", content=_envelope(event_id).model_dump_json(), headers=_headers(token)
    )


async def _post_batch(
    http: httpx.AsyncClient, envelopes: list[EventEnvelope], token: str | None
) -> httpx.Response:
    body = {"events": [envelope.model_dump(mode="json") for envelope in envelopes]}
    return await http.post("/internal/events/batch", json=body, headers=_headers(token))


async def test_receiver_acknowledges_a_repeated_event_as_duplicate(
    receiver: Receiver,
    receiver_http: httpx.AsyncClient,
    event_ids: list[uuid.UUID],
) -> None:
    event_id = uuid.uuid4()
    event_ids.append(event_id)

    first = await _post_event(receiver_http, event_id, _service_token())
    second = await _post_event(receiver_http, event_id, _service_token())

    assert first.status_code == 200
    assert first.json() == {"id": str(event_id), "duplicate": False}
    assert second.status_code == 200
    assert second.json() == {"id": str(event_id), "duplicate": True}
    assert receiver.handled_of([event_id]) == [event_id]


@pytest.mark.parametrize("path", ["/internal/events", "/internal/events/batch"])
async def test_receiver_accepts_events_only_from_services(
    audit_db: async_sessionmaker[AsyncSession],
    receiver: Receiver,
    receiver_http: httpx.AsyncClient,
    event_ids: list[uuid.UUID],
    path: str,
) -> None:
    event_id = uuid.uuid4()
    event_ids.append(event_id)
    envelope = _envelope(event_id)
    content = (
        envelope.model_dump_json()
        if path == "/internal/events"
        else json.dumps({"events": [envelope.model_dump(mode="json")]})
    )

    async def post(token: str | None) -> httpx.Response:
        return await receiver_http.post(path, content=content, headers=_headers(token))

    anonymous = await post(None)
    forged = await post(_service_token(FOREIGN))
    buyer = await post(_service_token(roles=frozenset({Role.BUYER})))

    assert anonymous.status_code == 401
    assert forged.status_code == 401
    assert buyer.status_code == 403
    assert buyer.json()["error"] == "Forbidden"
    assert receiver.handled_of([event_id]) == []
    assert await _receipts(audit_db, [event_id]) == set()


async def test_events_reach_the_receiver_in_the_order_they_were_emitted(
    catalogue_db: async_sessionmaker[AsyncSession],
    receiver: Receiver,
    receiver_http: httpx.AsyncClient,
    event_ids: list[uuid.UUID],
) -> None:
    emitted = [await _emit_committed(catalogue_db, event_ids) for _ in range(5)]

    await _relay(catalogue_db, receiver_http).relay_once()

    assert receiver.handled_of(emitted) == emitted


async def test_due_events_go_to_their_receiver_in_one_request_in_order(
    catalogue_db: async_sessionmaker[AsyncSession],
    receiver: Receiver,
    receiver_http: httpx.AsyncClient,
    event_ids: list[uuid.UUID],
) -> None:
    emitted = [await _emit_committed(catalogue_db, event_ids) for _ in range(7)]

    await _relay(catalogue_db, receiver_http).relay_once()

    (request,) = receiver.carrying(emitted)
    assert request.path == "/internal/events/batch"
    assert [event for event in request.event_ids if event in emitted] == emitted
    assert receiver.handled_of(emitted) == emitted
    for event_id in emitted:
        row = await _delivery(catalogue_db, event_id)
        assert row.delivered_at is not None
        assert row.attempts == 0


async def test_a_batch_acknowledges_repeated_events_inside_and_after_it_as_duplicates(
    audit_db: async_sessionmaker[AsyncSession],
    receiver: Receiver,
    receiver_http: httpx.AsyncClient,
    event_ids: list[uuid.UUID],
) -> None:
    first, second, third = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    event_ids.extend([first, second, third])

    once = await _post_batch(
        receiver_http, [_envelope(first), _envelope(second), _envelope(first)], _service_token()
    )
    again = await _post_batch(
        receiver_http, [_envelope(second), _envelope(third)], _service_token()
    )

    assert once.status_code == 200
    assert once.json() == {
        "receipts": [
            {"id": str(first), "duplicate": False},
            {"id": str(second), "duplicate": False},
            {"id": str(first), "duplicate": True},
        ]
    }
    assert again.status_code == 200
    assert again.json() == {
        "receipts": [
            {"id": str(second), "duplicate": True},
            {"id": str(third), "duplicate": False},
        ]
    }
    assert receiver.handled_of([first, second, third]) == [first, second, third]
    assert await _receipts(audit_db, [first, second, third]) == {first, second, third}


async def test_a_redelivered_batch_is_handled_once(
    catalogue_db: async_sessionmaker[AsyncSession],
    receiver: Receiver,
    receiver_http: httpx.AsyncClient,
    event_ids: list[uuid.UUID],
) -> None:
    emitted = [await _emit_committed(catalogue_db, event_ids) for _ in range(4)]
    relay = _relay(catalogue_db, receiver_http)
    await relay.relay_once()
    await _forget_delivery(catalogue_db, emitted)

    await relay.relay_once()

    assert [request.path for request in receiver.carrying(emitted)] == [
        "/internal/events/batch",
        "/internal/events/batch",
    ]
    assert receiver.handled_of(emitted) == emitted
    for event_id in emitted:
        assert (await _delivery(catalogue_db, event_id)).delivered_at is not None


async def test_a_batch_with_an_event_the_receiver_does_not_take_is_refused_whole(
    audit_db: async_sessionmaker[AsyncSession],
    receiver: Receiver,
    receiver_http: httpx.AsyncClient,
    event_ids: list[uuid.UUID],
) -> None:
    taken, not_taken = uuid.uuid4(), uuid.uuid4()
    event_ids.extend([taken, not_taken])

    response = await _post_batch(
        receiver_http, [_envelope(taken), _envelope(not_taken, OTHER_TOPIC)], _service_token()
    )

    assert response.status_code == 400
    assert response.json()["error"] == "InvalidRequest"
    assert OTHER_TOPIC.value in response.json()["detail"]
    assert receiver.handled_of([taken, not_taken]) == []
    assert await _receipts(audit_db, [taken, not_taken]) == set()


async def test_an_empty_batch_is_refused(
    receiver: Receiver, receiver_http: httpx.AsyncClient
) -> None:
    response = await _post_batch(receiver_http, [], _service_token())

    assert response.status_code == 422
    assert receiver.handled == []


async def test_receiver_refusing_the_token_leaves_the_reason_for_the_operator(
    catalogue_db: async_sessionmaker[AsyncSession],
    receiver: Receiver,
    receiver_http: httpx.AsyncClient,
    event_ids: list[uuid.UUID],
) -> None:
    event_id = await _emit_committed(catalogue_db, event_ids)

    await _relay(catalogue_db, receiver_http, signed_by=FOREIGN).relay_once()

    row = await _delivery(catalogue_db, event_id)
    assert row.delivered_at is None
    assert row.attempts == 1
    assert row.last_error is not None
    assert row.last_error.startswith("HTTP 401")
    assert "Unauthenticated" in row.last_error
    assert receiver.handled_of([event_id]) == []


async def test_destination_without_an_address_is_retried_with_the_reason(
    catalogue_db: async_sessionmaker[AsyncSession],
    receiver_http: httpx.AsyncClient,
    event_ids: list[uuid.UUID],
) -> None:
    event_id = await _emit_committed(catalogue_db, event_ids)
    relay = OutboxRelay(
        catalogue_db,
        source="catalogue",
        destinations={},
        signer=signer("catalogue"),
        http=HttpxTransport(receiver_http),
    )

    await relay.relay_once()

    row = await _delivery(catalogue_db, event_id)
    assert row.delivered_at is None
    assert row.last_error == "no address configured for audit"


async def _wait_until_due(row: OutboxDelivery) -> None:
    await asyncio.sleep(max(0.0, (row.next_attempt_at - utcnow()).total_seconds()))


async def test_a_failing_receiver_gets_the_whole_batch_again_after_a_backoff(
    catalogue_db: async_sessionmaker[AsyncSession],
    receiver: Receiver,
    receiver_http: httpx.AsyncClient,
    event_ids: list[uuid.UUID],
) -> None:
    emitted = [await _emit_committed(catalogue_db, event_ids) for _ in range(4)]
    relay = _relay(catalogue_db, receiver_http)
    receiver.answer = lambda _request: 503

    before = utcnow()
    await relay.relay_once()
    after = utcnow()

    head, *rest = [await _delivery(catalogue_db, event_id) for event_id in emitted]
    assert head.delivered_at is None
    assert head.attempts == 1
    assert head.last_error is not None
    assert head.last_error.startswith("HTTP 503")
    assert before + timedelta(seconds=0.5) <= head.next_attempt_at
    assert head.next_attempt_at <= after + timedelta(seconds=1)
    for row in rest:
        assert row.delivered_at is None
        assert row.attempts == 1
        assert row.last_error == "waiting for an earlier event"
        assert row.next_attempt_at == head.next_attempt_at
    assert receiver.handled_of(emitted) == []

    # Before the retry time nothing is sent, even to a receiver that is back.
    receiver.answer = lambda _request: None
    await relay.relay_once()
    assert len(receiver.carrying(emitted)) == 1

    await _wait_until_due(head)
    await relay.relay_once()

    first, second = receiver.carrying(emitted)
    assert first.path == second.path == "/internal/events/batch"
    assert first.event_ids == second.event_ids
    assert receiver.handled_of(emitted) == emitted
    for event_id in emitted:
        row = await _delivery(catalogue_db, event_id)
        assert row.delivered_at is not None
        assert row.attempts == 1


async def test_an_event_the_receiver_refuses_holds_back_only_itself_and_later_ones(
    catalogue_db: async_sessionmaker[AsyncSession],
    audit_db: async_sessionmaker[AsyncSession],
    receiver: Receiver,
    receiver_http: httpx.AsyncClient,
    event_ids: list[uuid.UUID],
) -> None:
    emitted = [await _emit_committed(catalogue_db, event_ids) for _ in range(5)]
    receiver.refused.add(emitted[2])

    delivered = await _relay(catalogue_db, receiver_http).relay_once()

    # The batch is refused whole; sent one by one, the events before the refused one go
    # through and the refused one carries its own reason.
    assert delivered >= 2
    assert [request.path for request in receiver.carrying(emitted)] == [
        "/internal/events/batch",
        "/internal/events",
        "/internal/events",
        "/internal/events",
    ]
    assert receiver.handled_of(emitted) == emitted[:2]
    assert await _receipts(audit_db, emitted) == set(emitted[:2])
    rows = [await _delivery(catalogue_db, event_id) for event_id in emitted]
    assert [row.delivered_at is not None for row in rows] == [True, True, False, False, False]
    refused = rows[2]
    assert refused.attempts == 1
    assert refused.last_error is not None
    assert refused.last_error.startswith("HTTP 400")
    assert str(emitted[2]) in refused.last_error
    for row in rows[3:]:
        assert row.last_error == "waiting for an earlier event"
        assert row.next_attempt_at == refused.next_attempt_at


async def test_a_receiver_without_the_batch_endpoint_still_gets_every_event_in_order(
    catalogue_db: async_sessionmaker[AsyncSession],
    receiver: Receiver,
    receiver_http: httpx.AsyncClient,
    event_ids: list[uuid.UUID],
) -> None:
    # A receiver not yet upgraded, during a rolling deploy.
    receiver.answer = lambda request: 404 if request.url.path.endswith("/batch") else None
    emitted = [await _emit_committed(catalogue_db, event_ids) for _ in range(3)]

    await _relay(catalogue_db, receiver_http).relay_once()

    assert receiver.handled_of(emitted) == emitted
    for event_id in emitted:
        assert (await _delivery(catalogue_db, event_id)).delivered_at is not None


async def test_batches_stay_under_the_byte_bound_and_keep_the_order(
    catalogue_db: async_sessionmaker[AsyncSession],
    receiver: Receiver,
    receiver_http: httpx.AsyncClient,
    event_ids: list[uuid.UUID],
) -> None:
    # Envelopes of about 500 bytes: two fit in 1,200 bytes, three do not.
    emitted = [
        await _emit_committed(catalogue_db, event_ids, _registered("x" * 300)) for _ in range(5)
    ]

    await _relay(catalogue_db, receiver_http, max_batch_bytes=1_200).relay_once()

    requests = receiver.carrying(emitted)
    assert [len(request.event_ids) for request in requests] == [2, 2, 1]
    assert all(request.size <= 1_200 for request in requests)
    assert [event for request in requests for event in request.event_ids] == emitted
    assert receiver.handled_of(emitted) == emitted


async def test_a_pass_sends_at_most_batch_size_events(
    catalogue_db: async_sessionmaker[AsyncSession],
    receiver: Receiver,
    receiver_http: httpx.AsyncClient,
    event_ids: list[uuid.UUID],
) -> None:
    backlog = await _pending(catalogue_db)
    emitted = [await _emit_committed(catalogue_db, event_ids) for _ in range(5)]
    relay = _relay(catalogue_db, receiver_http, batch_size=2)

    while await relay.relay_once():
        pass

    assert all(len(request.event_ids) <= 2 for request in receiver.posted)
    assert receiver.handled_of(emitted) == emitted
    assert await _pending(catalogue_db) == backlog


async def test_an_event_bigger_than_the_byte_bound_still_goes_alone(
    catalogue_db: async_sessionmaker[AsyncSession],
    receiver: Receiver,
    receiver_http: httpx.AsyncClient,
    event_ids: list[uuid.UUID],
) -> None:
    small = await _emit_committed(catalogue_db, event_ids)
    # 600 KB: over the relay's 512 KiB bound, under the receiver's 1 MiB body cap.
    large = await _emit_committed(catalogue_db, event_ids, _registered("x" * 600_000))
    last = await _emit_committed(catalogue_db, event_ids)

    await _relay(catalogue_db, receiver_http).relay_once()

    requests = receiver.carrying([small, large, last])
    assert [(request.path, request.event_ids) for request in requests] == [
        ("/internal/events", [small]),
        ("/internal/events", [large]),
        ("/internal/events", [last]),
    ]
    assert requests[1].size > 512 * 1024
    assert receiver.handled_of([small, large, last]) == [small, large, last]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _without_relay(app: FastAPI) -> Starlette:
    """`app` with a lifespan that only releases its database and HTTP pools.

    The app's own lifespan would start its outbox relay in the server's event loop, and
    the relay's module-level wake event stays bound to that loop afterwards (see the
    kit bug in the report); the receiver emits nothing, so its relay is not needed.
    """

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        await app.state.http.aclose()
        await app.state.engine.dispose()

    return Starlette(routes=[Mount("/", app=app)], lifespan=lifespan)


@asynccontextmanager
async def _serve(app: FastAPI, port: int) -> AsyncIterator[None]:
    """Serve `app` over real HTTP on `port`, in a thread with its own event loop."""
    server = uvicorn.Server(
        uvicorn.Config(
            _without_relay(app), host="127.0.0.1", port=port, log_config=None, access_log=False
        )
    )
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    try:
        for _ in range(500):
            if server.started:
                break
            if not thread.is_alive():
                raise RuntimeError("the server thread exited while starting")
            await asyncio.sleep(0.01)
        else:
            raise RuntimeError("the server did not start")
        yield
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, 10)


async def test_receiver_down_backs_off_then_delivers_when_it_is_back(
    catalogue_db: async_sessionmaker[AsyncSession],
    event_ids: list[uuid.UUID],
    migrated_postgres: str,
) -> None:
    port = _free_port()
    backlog = await _pending(catalogue_db)
    first = await _emit_committed(catalogue_db, event_ids)
    second = await _emit_committed(catalogue_db, event_ids)
    receiver = Receiver(migrated_postgres)
    async with httpx.AsyncClient(timeout=5.0) as http:
        relay = _relay(catalogue_db, http, audit_url=f"http://127.0.0.1:{port}")

        # Nothing listens on the port yet.
        before = utcnow()
        await relay.relay_once()
        after = utcnow()

        failed = await _delivery(catalogue_db, first)
        waiting = await _delivery(catalogue_db, second)
        assert failed.delivered_at is None
        assert failed.attempts == 1
        assert failed.last_error is not None
        assert "ConnectError" in failed.last_error
        # The first retry waits between half a second and a second.
        assert before + timedelta(seconds=0.5) <= failed.next_attempt_at
        assert failed.next_attempt_at <= after + timedelta(seconds=1)
        # A later event for the same receiver waits behind the failed one, to keep order.
        assert waiting.delivered_at is None
        assert waiting.attempts == 1
        assert waiting.last_error == "waiting for an earlier event"
        assert waiting.next_attempt_at == failed.next_attempt_at
        assert await _pending(catalogue_db) == backlog + 2

        # Before the retry time nothing is attempted.
        await relay.relay_once()
        assert (await _delivery(catalogue_db, first)).attempts == 1

        async with _serve(receiver.app, port):
            await _wait_until_due(failed)
            await relay.relay_once()

    assert (await _delivery(catalogue_db, first)).delivered_at is not None
    assert (await _delivery(catalogue_db, second)).delivered_at is not None
    assert receiver.handled_of([first, second]) == [first, second]
    assert await _pending(catalogue_db) == backlog


@pytest.mark.parametrize("attempts", [1, 2, 3, 5, 8])
def test_backoff_doubles_with_each_attempt_with_jitter(attempts: int) -> None:
    ceiling = 0.5 * 2**attempts

    delays = [backoff(attempts, max_seconds=300).total_seconds() for _ in range(200)]

    assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
    assert len(set(delays)) > 1


@pytest.mark.parametrize("attempts", [10, 20, 1000])
def test_backoff_is_capped(attempts: int) -> None:
    delays = [backoff(attempts, max_seconds=300).total_seconds() for _ in range(200)]

    assert all(150 <= delay <= 300 for delay in delays)


async def test_running_relay_delivers_as_soon_as_the_event_commits(
    catalogue_db: async_sessionmaker[AsyncSession],
    receiver: Receiver,
    receiver_http: httpx.AsyncClient,
    event_ids: list[uuid.UUID],
) -> None:
    # A poll far longer than the test: only the commit's wake-up can deliver in time.
    wakeups = RelayWakeups()
    wakeups.serve(catalogue_db)
    relay = OutboxRelay(
        catalogue_db,
        source="catalogue",
        destinations={"audit": AUDIT_URL},
        signer=signer("catalogue"),
        http=HttpxTransport(receiver_http),
        poll_seconds=60,
        wakeups=wakeups,
    )
    task = asyncio.create_task(relay.run())
    try:
        await asyncio.sleep(0.2)
        event_id = await _emit_committed(catalogue_db, event_ids)

        deadline = asyncio.get_running_loop().time() + 5
        while (await _delivery(catalogue_db, event_id)).delivered_at is None:
            assert not task.done(), "the relay stopped"
            assert asyncio.get_running_loop().time() < deadline, "not delivered within 5 s"
            await asyncio.sleep(0.02)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    assert receiver.handled_of([event_id]) == [event_id]


async def test_running_relay_survives_a_database_outage(receiver_http: httpx.AsyncClient) -> None:
    engine = create_engine(
        f"postgresql+asyncpg://postgres@127.0.0.1:{_free_port()}/nothing", pool_size=1
    )
    relay = OutboxRelay(
        create_sessionmaker(engine),
        source="catalogue",
        destinations={"audit": AUDIT_URL},
        signer=signer("catalogue"),
        http=HttpxTransport(receiver_http),
        poll_seconds=0.05,
    )
    task = asyncio.create_task(relay.run())
    try:
        await asyncio.sleep(0.3)

        assert not task.done()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await engine.dispose()


async def test_replicas_relaying_at_once_post_each_event_once(
    catalogue_db: async_sessionmaker[AsyncSession],
    receiver: Receiver,
    receiver_http: httpx.AsyncClient,
    event_ids: list[uuid.UUID],
) -> None:
    emitted = [await _emit_committed(catalogue_db, event_ids) for _ in range(6)]

    replicas = [_relay(catalogue_db, receiver_http) for _ in range(3)]
    await asyncio.gather(*(replica.relay_once() for replica in replicas))

    posted = [event for request in receiver.posted for event in request.event_ids]
    assert sorted(event for event in posted if event in emitted) == sorted(emitted)
    assert receiver.handled_of(emitted) == emitted


async def test_an_event_committed_after_a_failed_one_waits_for_it(
    catalogue_db: async_sessionmaker[AsyncSession],
    receiver: Receiver,
    receiver_http: httpx.AsyncClient,
    event_ids: list[uuid.UUID],
) -> None:
    async with httpx.AsyncClient() as unreachable:
        down = _relay(catalogue_db, unreachable, audit_url=f"http://127.0.0.1:{_free_port()}")
        first = await _emit_committed(catalogue_db, event_ids)
        await down.relay_once()
    second = await _emit_committed(catalogue_db, event_ids)

    # The receiver is back, but the first event is not due yet: the second must not
    # overtake it (the audit log would record a withdrawal before the consent).
    await _relay(catalogue_db, receiver_http).relay_once()

    assert (await _delivery(catalogue_db, first)).attempts == 1
    assert (await _delivery(catalogue_db, second)).delivered_at is None
    assert receiver.handled_of([first, second]) == []


class HangingAfter(httpx.AsyncBaseTransport):
    """The receiver, answering its first `answered` requests and never any after them."""

    def __init__(self, receiver: Receiver, answered: int) -> None:
        self._receiver = receiver
        self._answered = answered

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._answered == 0:
            await asyncio.Event().wait()
        self._answered -= 1
        return await self._receiver.handle_async_request(request)


async def test_a_request_timing_out_keeps_the_ones_acknowledged_before_it(
    catalogue_db: async_sessionmaker[AsyncSession],
    receiver: Receiver,
    event_ids: list[uuid.UUID],
) -> None:
    # Envelopes of about 500 bytes: two to a request of at most 1,200 bytes.
    emitted = [
        await _emit_committed(catalogue_db, event_ids, _registered("x" * 300)) for _ in range(4)
    ]
    async with httpx.AsyncClient(
        transport=HangingAfter(receiver, answered=1), base_url=AUDIT_URL
    ) as http:
        relay = OutboxRelay(
            catalogue_db,
            source="catalogue",
            destinations={"audit": AUDIT_URL},
            signer=signer("catalogue"),
            http=HttpxTransport(http),
            max_batch_bytes=1_200,
            lease_seconds=0.5,
        )

        delivered = await relay.relay_once()

    assert delivered == 2
    assert receiver.handled_of(emitted) == emitted[:2]
    rows = [await _delivery(catalogue_db, event_id) for event_id in emitted]
    for row in rows[:2]:
        assert row.delivered_at is not None
        assert row.attempts == 0
        assert row.last_error is None
    timed_out, waiting = rows[2:]
    assert timed_out.delivered_at is None
    assert timed_out.attempts == 1
    assert timed_out.last_error == "no answer within the relay's lease"
    assert waiting.last_error == "waiting for an earlier event"
