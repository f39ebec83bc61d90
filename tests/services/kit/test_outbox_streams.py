"""Each receiver's stream is independent: a receiver that hangs holds up only itself, gets
every event once and in order when it recovers, and a killed relay's lease lapses."""

import asyncio
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import Receive, Scope, Send

from services.contracts.catalogue import ConsentKind, ConsentRecorded
from services.contracts.events import SUBSCRIBERS, EventEnvelope, Topic
from services.kit.app import create_service_app
from services.kit.client import HttpxTransport
from services.kit.db import create_engine, on_commit, utcnow
from services.kit.outbox import InboxEvent, OutboxDelivery, OutboxRelay, emit
from services.kit.settings import ServiceSettings
from tests.fixtures.internal_keys import key_settings, signer

# A topic two services receive: the audit log and licensing.
TOPIC = Topic.CONSENT_WITHDRAWN
assert set(SUBSCRIBERS[TOPIC]) == {"licensing", "audit"}


class StallableReceiver:
    """A service built on the kit, served over real HTTP, that records each event it
    commits; while `running` is clear it accepts requests and answers none, as a process
    stopped with SIGSTOP would."""

    def __init__(self, name: str, database_url: str) -> None:
        self.handled: list[uuid.UUID] = []
        self.requests = 0
        self.running = threading.Event()
        self.running.set()
        settings = ServiceSettings.model_validate(
            {
                "database_url": database_url,
                "database_schema": name,
                "database_pool_size": 2,
                **key_settings(name),
            }
        )
        self.app = create_service_app(name, settings, event_handlers={TOPIC: self._handle})

    async def _handle(self, session: AsyncSession, envelope: EventEnvelope) -> None:
        on_commit(session, lambda: self.handled.append(envelope.id))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] == "http":
            self.requests += 1
            if not self.running.is_set():
                await asyncio.to_thread(self.running.wait)
        await self.app(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        # Only the pools are released, in the server's own loop; the app's lifespan
        # would start its own relay, and this receiver emits nothing.
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await self.app.state.http.aclose()
        await self.app.state.engine.dispose()
        await send({"type": "lifespan.shutdown.complete"})


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@asynccontextmanager
async def _serving(receiver: StallableReceiver) -> AsyncIterator[str]:
    """Serve `receiver` on loopback from a thread with its own event loop; its lifespan
    is its own (see `StallableReceiver._lifespan`)."""
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            receiver, host="127.0.0.1", port=port, lifespan="on", log_config=None, access_log=False
        )
    )
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    try:
        await _until(lambda: server.started, "the receiver did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        receiver.running.set()
        server.should_exit = True
        await asyncio.to_thread(thread.join, 10)


async def _until(condition: Callable[[], bool], failure: str, *, seconds: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, failure
        await asyncio.sleep(0.01)


@pytest.fixture
async def emitted(
    catalogue_db: async_sessionmaker[AsyncSession], migrated_postgres: str
) -> AsyncIterator[list[uuid.UUID]]:
    """The events a test emits; their outbox and inbox rows are deleted at the end."""
    ids: list[uuid.UUID] = []
    yield ids
    async with catalogue_db() as session:
        await session.execute(delete(OutboxDelivery).where(OutboxDelivery.event_id.in_(ids)))
        await session.commit()
    for schema in SUBSCRIBERS[TOPIC]:
        engine = create_engine(migrated_postgres, schema=schema, pool_size=1)
        try:
            async with engine.begin() as connection:
                await connection.execute(delete(InboxEvent).where(InboxEvent.event_id.in_(ids)))
        finally:
            await engine.dispose()


def _emitter(
    sessionmaker: async_sessionmaker[AsyncSession], emitted: list[uuid.UUID]
) -> Callable[[], Awaitable[uuid.UUID]]:
    async def emit_committed() -> uuid.UUID:
        async with sessionmaker() as session:
            payload = ConsentRecorded(
                consent_id=uuid.uuid4(),
                work_id=uuid.uuid4(),
                kind=ConsentKind.WITHDRAWN,
                uses=[],
                statement_version="1",
                statement_sha256="0" * 64,
                given_by=uuid.uuid4(),
                given_at=utcnow(),
            )
            event_id = emit(session, TOPIC, payload)
            emitted.append(event_id)
            await session.commit()
        return event_id

    return emit_committed


def _relay(
    sessionmaker: async_sessionmaker[AsyncSession], http: httpx.AsyncClient, **options: Any
) -> OutboxRelay:
    return OutboxRelay(
        sessionmaker,
        source="catalogue",
        destinations=options.pop("destinations"),
        signer=signer("catalogue"),
        http=HttpxTransport(http),
        **options,
    )


async def test_a_hanging_receiver_holds_up_only_itself_and_then_gets_every_event_in_order(
    catalogue_db: async_sessionmaker[AsyncSession],
    migrated_postgres: str,
    emitted: list[uuid.UUID],
) -> None:
    audit = StallableReceiver("audit", migrated_postgres)
    licensing = StallableReceiver("licensing", migrated_postgres)
    emit_committed = _emitter(catalogue_db, emitted)
    audit.running.clear()
    # A call's timeout far longer than the test waits for licensing: only a relay that
    # does not wait on the hanging receiver delivers the later events in time.
    async with (
        _serving(audit) as audit_url,
        _serving(licensing) as licensing_url,
        httpx.AsyncClient(timeout=60) as http,
    ):
        relay = _relay(
            catalogue_db,
            http,
            destinations={"audit": audit_url, "licensing": licensing_url},
            poll_seconds=0.1,
        )
        task = asyncio.create_task(relay.run())
        try:
            await emit_committed()
            await _until(lambda: audit.requests > 0, "the audit log was never called")
            for _ in range(5):
                await emit_committed()

            await _until(
                lambda: licensing.handled == emitted,
                "licensing waited on the hanging audit log",
                seconds=5,
            )
            assert audit.handled == []

            audit.running.set()
            await _until(lambda: audit.handled == emitted, "the audit log did not catch up")
            assert not task.done(), "the relay stopped"
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    assert audit.handled == emitted
    assert licensing.handled == emitted


async def test_a_killed_relays_lease_is_taken_over_once_it_lapses(
    catalogue_db: async_sessionmaker[AsyncSession],
    migrated_postgres: str,
    emitted: list[uuid.UUID],
) -> None:
    audit = StallableReceiver("audit", migrated_postgres)
    emit_committed = _emitter(catalogue_db, emitted)
    for _ in range(3):
        await emit_committed()
    audit.running.clear()
    async with _serving(audit) as audit_url, httpx.AsyncClient(timeout=60) as http:
        # Licensing's rows are not this test's concern: it keeps them where they are.
        destinations = {"audit": audit_url}
        killed = _relay(catalogue_db, http, destinations=destinations, lease_seconds=3)
        sending = asyncio.create_task(killed.relay_stream_once("audit"))
        await _until(lambda: audit.requests == 1, "the first relay never called")
        sending.cancel()
        await asyncio.gather(sending, return_exceptions=True)
        audit.running.set()

        replica = _relay(catalogue_db, http, destinations=destinations)
        # The lease is still held: the replica sends nothing.
        assert await replica.relay_stream_once("audit") == 0
        assert audit.requests == 1

        async def taken_over() -> int:
            delivered = 0
            while not delivered:
                await asyncio.sleep(0.05)
                delivered = await replica.relay_stream_once("audit")
            return delivered

        assert await asyncio.wait_for(taken_over(), timeout=10) == 3

    # The killed relay's request, answered after the stall, and the replica's carried
    # the same events: each was handled once, in order.
    assert audit.handled == emitted
