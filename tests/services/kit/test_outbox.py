import asyncio
import json
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.routing import Mount

from services.audit.app import create_app as create_audit_app
from services.audit.config import Settings as AuditSettings
from services.audit.models import LogEntry
from services.contracts.events import SUBSCRIBERS, AccountRegistered, EventEnvelope
from services.contracts.roles import Role
from services.kit.db import create_engine, create_sessionmaker, utcnow
from services.kit.internal_token import TokenSigner
from services.kit.outbox import (
    InboxEvent,
    OutboxDelivery,
    OutboxRelay,
    backoff,
    emit,
    pending_count,
)
from storage import StorageSettings

# The outbox is exercised with a topic only the audit log receives, so the assertions do
# not depend on which services subscribe to account events.
AUDIT_ONLY_TOPIC = next(
    topic for topic, receivers in SUBSCRIBERS.items() if receivers == ("audit",)
)

SECRET = "kit-tests-internal-token-secret-0123456789"
OTHER_SECRET = "another-deployment-secret-9876543210-abcdef"
AUDIT_URL = "http://audit.internal"


def _audit_app(database_url: str, objects: Path) -> FastAPI:
    settings = AuditSettings.model_validate(
        {
            "database_url": database_url,
            "database_schema": "audit",
            "database_pool_size": 2,
            "ASSENT_INTERNAL_TOKEN_SECRET": SECRET,
        }
    )
    storage = StorageSettings(
        backend="local", local_root=objects, signing_secret=SecretStr("s" * 48)
    )
    return create_audit_app(settings, storage)


@pytest.fixture
async def audit_http(migrated_postgres: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The real audit app, in process, behind an HTTP client."""
    app = _audit_app(migrated_postgres, tmp_path)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=AUDIT_URL
        ) as client:
            yield client
    finally:
        await app.state.http.aclose()
        await app.state.engine.dispose()


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
        await session.execute(delete(LogEntry).where(LogEntry.event_id.in_(ids)))
        await session.execute(delete(InboxEvent).where(InboxEvent.event_id.in_(ids)))
        await session.commit()


def _relay(
    sessionmaker: async_sessionmaker[AsyncSession],
    http: httpx.AsyncClient,
    *,
    audit_url: str = AUDIT_URL,
    secret: str = SECRET,
) -> OutboxRelay:
    return OutboxRelay(
        sessionmaker,
        source="catalogue",
        destinations={"audit": audit_url},
        signer=TokenSigner(secret, issuer="catalogue"),
        http=http,
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


async def _log(
    audit_db: async_sessionmaker[AsyncSession], event_ids: Iterable[uuid.UUID]
) -> list[LogEntry]:
    async with audit_db() as session:
        statement = (
            select(LogEntry).where(LogEntry.event_id.in_(list(event_ids))).order_by(LogEntry.seq)
        )
        return list((await session.scalars(statement)).all())


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


async def test_committed_event_reaches_the_audit_log(
    catalogue_db: async_sessionmaker[AsyncSession],
    audit_db: async_sessionmaker[AsyncSession],
    audit_http: httpx.AsyncClient,
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

    delivered = await _relay(catalogue_db, audit_http).relay_once()

    assert delivered >= 1
    row = await _delivery(catalogue_db, event_id)
    assert row.delivered_at is not None
    assert row.last_error is None
    (entry,) = await _log(audit_db, [event_id])
    assert entry.topic == AUDIT_ONLY_TOPIC.value
    assert entry.source == "catalogue"
    assert entry.payload == payload.model_dump(mode="json")
    assert entry.occurred_at == row.occurred_at
    assert await _pending(catalogue_db) == backlog


async def test_delivered_event_is_not_sent_again(
    catalogue_db: async_sessionmaker[AsyncSession],
    audit_db: async_sessionmaker[AsyncSession],
    audit_http: httpx.AsyncClient,
    event_ids: list[uuid.UUID],
) -> None:
    event_id = await _emit_committed(catalogue_db, event_ids)
    relay = _relay(catalogue_db, audit_http)
    await relay.relay_once()
    delivered_at = (await _delivery(catalogue_db, event_id)).delivered_at

    await relay.relay_once()

    assert (await _delivery(catalogue_db, event_id)).delivered_at == delivered_at
    assert len(await _log(audit_db, [event_id])) == 1


async def test_redelivered_event_is_appended_once(
    catalogue_db: async_sessionmaker[AsyncSession],
    audit_db: async_sessionmaker[AsyncSession],
    audit_http: httpx.AsyncClient,
    event_ids: list[uuid.UUID],
) -> None:
    event_id = await _emit_committed(catalogue_db, event_ids)
    relay = _relay(catalogue_db, audit_http)
    await relay.relay_once()
    # As if the relay had died after the receiver answered but before it committed.
    async with catalogue_db() as session:
        await session.execute(
            update(OutboxDelivery)
            .where(OutboxDelivery.event_id == event_id)
            .values(delivered_at=None)
        )
        await session.commit()

    await relay.relay_once()

    assert (await _delivery(catalogue_db, event_id)).delivered_at is not None
    assert len(await _log(audit_db, [event_id])) == 1
    async with audit_db() as session:
        receipts = await session.scalars(
            select(InboxEvent.event_id).where(InboxEvent.event_id == event_id)
        )
        assert list(receipts) == [event_id]


def _envelope(event_id: uuid.UUID) -> str:
    return EventEnvelope(
        id=event_id,
        topic=AUDIT_ONLY_TOPIC,
        source="catalogue",
        occurred_at=utcnow(),
        payload=_registered().model_dump(mode="json"),
    ).model_dump_json()


def _service_token(secret: str = SECRET, roles: frozenset[Role] | None = None) -> str:
    return TokenSigner(secret, issuer="catalogue").sign(
        subject="service:catalogue",
        roles=frozenset({Role.SERVICE}) if roles is None else roles,
        audience="audit",
    )


async def _post_event(
    audit_http: httpx.AsyncClient, event_id: uuid.UUID, token: str | None
) -> httpx.Response:
    headers = {"content-type": "application/json"}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    return await audit_http.post("/internal/events", content=_envelope(event_id), headers=headers)


async def test_receiver_acknowledges_a_repeated_event_as_duplicate(
    audit_db: async_sessionmaker[AsyncSession],
    audit_http: httpx.AsyncClient,
    event_ids: list[uuid.UUID],
) -> None:
    event_id = uuid.uuid4()
    event_ids.append(event_id)

    first = await _post_event(audit_http, event_id, _service_token())
    second = await _post_event(audit_http, event_id, _service_token())

    assert first.status_code == 200
    assert first.json() == {"id": str(event_id), "duplicate": False}
    assert second.status_code == 200
    assert second.json() == {"id": str(event_id), "duplicate": True}
    assert len(await _log(audit_db, [event_id])) == 1


async def test_receiver_accepts_events_only_from_services(
    audit_db: async_sessionmaker[AsyncSession],
    audit_http: httpx.AsyncClient,
    event_ids: list[uuid.UUID],
) -> None:
    event_id = uuid.uuid4()
    event_ids.append(event_id)

    anonymous = await _post_event(audit_http, event_id, None)
    forged = await _post_event(audit_http, event_id, _service_token(OTHER_SECRET))
    buyer = await _post_event(audit_http, event_id, _service_token(roles=frozenset({Role.BUYER})))

    assert anonymous.status_code == 401
    assert forged.status_code == 401
    assert buyer.status_code == 403
    assert buyer.json()["error"] == "Forbidden"
    assert await _log(audit_db, [event_id]) == []


async def test_events_reach_the_audit_log_in_the_order_they_were_emitted(
    catalogue_db: async_sessionmaker[AsyncSession],
    audit_db: async_sessionmaker[AsyncSession],
    audit_http: httpx.AsyncClient,
    event_ids: list[uuid.UUID],
) -> None:
    emitted = [await _emit_committed(catalogue_db, event_ids) for _ in range(5)]

    await _relay(catalogue_db, audit_http).relay_once()

    assert [entry.event_id for entry in await _log(audit_db, emitted)] == emitted


async def test_receiver_refusing_the_token_leaves_the_reason_for_the_operator(
    catalogue_db: async_sessionmaker[AsyncSession],
    audit_db: async_sessionmaker[AsyncSession],
    audit_http: httpx.AsyncClient,
    event_ids: list[uuid.UUID],
) -> None:
    event_id = await _emit_committed(catalogue_db, event_ids)

    await _relay(catalogue_db, audit_http, secret=OTHER_SECRET).relay_once()

    row = await _delivery(catalogue_db, event_id)
    assert row.delivered_at is None
    assert row.attempts == 1
    assert row.last_error is not None
    assert row.last_error.startswith("HTTP 401")
    assert "Unauthenticated" in row.last_error
    assert await _log(audit_db, [event_id]) == []


async def test_destination_without_an_address_is_retried_with_the_reason(
    catalogue_db: async_sessionmaker[AsyncSession],
    audit_http: httpx.AsyncClient,
    event_ids: list[uuid.UUID],
) -> None:
    event_id = await _emit_committed(catalogue_db, event_ids)
    relay = OutboxRelay(
        catalogue_db,
        source="catalogue",
        destinations={},
        signer=TokenSigner(SECRET, issuer="catalogue"),
        http=audit_http,
    )

    await relay.relay_once()

    row = await _delivery(catalogue_db, event_id)
    assert row.delivered_at is None
    assert row.last_error == "no address configured for audit"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _without_relay(app: FastAPI) -> Starlette:
    """`app` with a lifespan that only releases its database and HTTP pools.

    The app's own lifespan would start its outbox relay in the server's event loop, and
    the relay's module-level wake event stays bound to that loop afterwards (see the
    kit bug in the report); the audit service emits nothing, so its relay is not needed.
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
    audit_db: async_sessionmaker[AsyncSession],
    event_ids: list[uuid.UUID],
    migrated_postgres: str,
    tmp_path: Path,
) -> None:
    port = _free_port()
    backlog = await _pending(catalogue_db)
    first = await _emit_committed(catalogue_db, event_ids)
    second = await _emit_committed(catalogue_db, event_ids)
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

        async with _serve(_audit_app(migrated_postgres, tmp_path), port):
            await asyncio.sleep(max(0.0, (failed.next_attempt_at - utcnow()).total_seconds()))
            await relay.relay_once()

    assert (await _delivery(catalogue_db, first)).delivered_at is not None
    assert (await _delivery(catalogue_db, second)).delivered_at is not None
    assert [entry.event_id for entry in await _log(audit_db, [first, second])] == [first, second]
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
    audit_db: async_sessionmaker[AsyncSession],
    audit_http: httpx.AsyncClient,
    event_ids: list[uuid.UUID],
) -> None:
    # A poll far longer than the test: only the commit's wake-up can deliver in time.
    relay = OutboxRelay(
        catalogue_db,
        source="catalogue",
        destinations={"audit": AUDIT_URL},
        signer=TokenSigner(SECRET, issuer="catalogue"),
        http=audit_http,
        poll_seconds=60,
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

    assert len(await _log(audit_db, [event_id])) == 1


async def test_running_relay_survives_a_database_outage(audit_http: httpx.AsyncClient) -> None:
    engine = create_engine(
        f"postgresql+asyncpg://postgres@127.0.0.1:{_free_port()}/nothing", pool_size=1
    )
    relay = OutboxRelay(
        create_sessionmaker(engine),
        source="catalogue",
        destinations={"audit": AUDIT_URL},
        signer=TokenSigner(SECRET, issuer="catalogue"),
        http=audit_http,
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
    audit_db: async_sessionmaker[AsyncSession],
    migrated_postgres: str,
    tmp_path: Path,
    event_ids: list[uuid.UUID],
) -> None:
    emitted = [await _emit_committed(catalogue_db, event_ids) for _ in range(6)]
    posted: list[uuid.UUID] = []

    async def count_post(request: httpx.Request) -> None:
        posted.append(uuid.UUID(json.loads(request.content)["id"]))

    app = _audit_app(migrated_postgres, tmp_path)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), event_hooks={"request": [count_post]}
        ) as http:
            replicas = [_relay(catalogue_db, http) for _ in range(3)]
            await asyncio.gather(*(replica.relay_once() for replica in replicas))
    finally:
        await app.state.http.aclose()
        await app.state.engine.dispose()

    assert sorted(event for event in posted if event in emitted) == sorted(emitted)
    assert [entry.event_id for entry in await _log(audit_db, emitted)] == emitted


async def test_an_event_committed_after_a_failed_one_waits_for_it(
    catalogue_db: async_sessionmaker[AsyncSession],
    audit_db: async_sessionmaker[AsyncSession],
    audit_http: httpx.AsyncClient,
    event_ids: list[uuid.UUID],
) -> None:
    async with httpx.AsyncClient() as unreachable:
        down = _relay(catalogue_db, unreachable, audit_url=f"http://127.0.0.1:{_free_port()}")
        first = await _emit_committed(catalogue_db, event_ids)
        await down.relay_once()
    second = await _emit_committed(catalogue_db, event_ids)

    # The receiver is back, but the first event is not due yet: the second must not
    # overtake it (the audit log would record a withdrawal before the consent).
    await _relay(catalogue_db, audit_http).relay_once()

    assert (await _delivery(catalogue_db, first)).attempts == 1
    assert (await _delivery(catalogue_db, second)).delivered_at is None
    assert await _log(audit_db, [first, second]) == []
