"""Transactional outbox, its relay, and the idempotent inbox that receives its events.

A state change and its event commit in one transaction (`emit`); the relay then delivers
each event to every subscribed service at least once, retrying with backoff; receivers
record the event id in the same transaction as its effect, so a redelivery does nothing.
"""

import asyncio
import contextlib
import random
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import httpx
import structlog
from fastapi import APIRouter, Depends
from pydantic import BaseModel
from sqlalchemy import (
    JSON,
    BigInteger,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, aliased, mapped_column

from services.contracts.events import SUBSCRIBERS, EventEnvelope, EventReceipt, Topic
from services.contracts.roles import Role
from services.kit.db import KitBase, UTCDateTime, get_session, on_commit, utcnow
from services.kit.errors import Forbidden, InvalidRequest, Unauthenticated, error_responses
from services.kit.internal_token import CurrentCaller, TokenSigner, require_role

log = structlog.get_logger()

# Each running relay's event, with its loop: a commit wakes them all, thread-safely, so
# events go out at once instead of at the next poll.
_relays_waiting: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()


def _wake_relays() -> None:
    for loop, wake in list(_relays_waiting):
        if not loop.is_closed():
            loop.call_soon_threadsafe(wake.set)


class OutboxDelivery(KitBase):
    """One row per (event, receiving service): each receiver is delivered independently."""

    __tablename__ = "outbox_delivery"
    __table_args__ = (
        UniqueConstraint("event_id", "destination"),
        Index(
            "ix_outbox_delivery_pending",
            "next_attempt_at",
            postgresql_where=text("delivered_at IS NULL"),
            sqlite_where=text("delivered_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    event_id: Mapped[uuid.UUID]
    topic: Mapped[str] = mapped_column(String(100))
    destination: Mapped[str] = mapped_column(String(50))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class InboxEvent(KitBase):
    __tablename__ = "inbox_event"

    event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    topic: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(50))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


def emit(session: AsyncSession, topic: Topic, payload: BaseModel) -> uuid.UUID:
    """Add `topic` to the current transaction's outbox; it is relayed once committed."""
    event_id = uuid.uuid4()
    now = utcnow()
    body = payload.model_dump(mode="json")
    for destination in SUBSCRIBERS[topic]:
        session.add(
            OutboxDelivery(
                event_id=event_id,
                topic=topic,
                destination=destination,
                payload=body,
                occurred_at=now,
                next_attempt_at=now,
            )
        )
    on_commit(session, _wake_relays)
    return event_id


def backoff(attempts: int, *, max_seconds: float) -> timedelta:
    """Exponential with full jitter, so a recovering receiver is not hit by a stampede."""
    ceiling = min(max_seconds, 0.5 * 2 ** min(attempts, 20))
    return timedelta(seconds=random.uniform(ceiling / 2, ceiling))


class OutboxRelay:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        source: str,
        destinations: Mapping[str, str],
        signer: TokenSigner,
        http: httpx.AsyncClient,
        poll_seconds: float = 0.5,
        max_backoff_seconds: float = 300.0,
        batch_size: int = 100,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._source = source
        self._destinations = destinations
        self._signer = signer
        self._http = http
        self._poll_seconds = poll_seconds
        self._max_backoff_seconds = max_backoff_seconds
        self._batch_size = batch_size

    async def run(self) -> None:
        waiting = (asyncio.get_running_loop(), asyncio.Event())
        _relays_waiting.add(waiting)
        try:
            while True:
                # Cleared before relaying, so a commit during the batch still wakes us.
                waiting[1].clear()
                try:
                    delivered = await self.relay_once()
                except Exception:
                    log.exception("outbox.relay.failed", source=self._source)
                    delivered = 0
                if delivered < self._batch_size:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(waiting[1].wait(), timeout=self._poll_seconds)
        finally:
            _relays_waiting.discard(waiting)

    async def relay_once(self) -> int:
        """Deliver one batch of due events; returns how many were delivered.

        Each receiver gets its events in the order they were written: an event waits
        while an earlier one to the same receiver waits for a retry, and on PostgreSQL
        one relay per schema works at a time (an advisory lock), so replicas never
        deliver one receiver's events side by side.
        """
        async with self._sessionmaker() as session, session.begin():
            if session.get_bind().dialect.name == "postgresql":
                acquired = await session.scalar(
                    text(
                        "SELECT pg_try_advisory_xact_lock("
                        "hashtext('assent.outbox.' || current_schema()))"
                    )
                )
                if not acquired:
                    return 0
            now = utcnow()
            earlier = aliased(OutboxDelivery)
            waiting_before = (
                select(earlier.id)
                .where(earlier.destination == OutboxDelivery.destination)
                .where(earlier.id < OutboxDelivery.id)
                .where(earlier.delivered_at.is_(None))
                .where(earlier.next_attempt_at > now)
            )
            due = (
                await session.scalars(
                    select(OutboxDelivery)
                    .where(OutboxDelivery.delivered_at.is_(None))
                    .where(OutboxDelivery.next_attempt_at <= now)
                    .where(~waiting_before.exists())
                    .order_by(OutboxDelivery.id)
                    .limit(self._batch_size)
                )
            ).all()
            by_destination: dict[str, list[OutboxDelivery]] = {}
            for row in due:
                by_destination.setdefault(row.destination, []).append(row)
            results = await asyncio.gather(
                *(self._deliver_in_order(rows) for rows in by_destination.values())
            )
            return sum(results)

    async def _deliver_in_order(self, rows: list[OutboxDelivery]) -> int:
        delivered = 0
        for index, row in enumerate(rows):
            error = await self._post(row)
            if error is None:
                row.delivered_at = utcnow()
                delivered += 1
                continue
            # Keep a receiver's events in order: once one fails, the rest of this
            # receiver's batch waits for the same retry.
            retry_at = utcnow() + backoff(row.attempts + 1, max_seconds=self._max_backoff_seconds)
            for pending in rows[index:]:
                pending.attempts += 1
                pending.next_attempt_at = retry_at
                pending.last_error = error if pending is row else "waiting for an earlier event"
            log.warning(
                "outbox.delivery.retry",
                destination=row.destination,
                topic=row.topic,
                event_id=str(row.event_id),
                attempts=row.attempts,
                error=error,
            )
            break
        return delivered

    async def _post(self, row: OutboxDelivery) -> str | None:
        base_url = self._destinations.get(row.destination)
        if base_url is None:
            return f"no address configured for {row.destination}"
        try:
            envelope = EventEnvelope(
                id=row.event_id,
                topic=Topic(row.topic),
                source=self._source,
                occurred_at=row.occurred_at,
                payload=row.payload,
            )
        except ValueError as exc:
            # A row this version cannot read (e.g. a topic since removed) must not stop
            # the relay for everyone else.
            log.error("outbox.delivery.unreadable", event_id=str(row.event_id), error=str(exc))
            return f"unreadable: {exc}"
        token = self._signer.sign(
            subject=f"service:{self._source}",
            roles=frozenset({Role.SERVICE}),
            audience=row.destination,
        )
        try:
            response = await self._http.post(
                base_url.rstrip("/") + "/internal/events",
                content=envelope.model_dump_json(),
                headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
            )
        except httpx.TransportError as exc:
            return f"{type(exc).__name__}: {exc}"
        if response.status_code == 200:
            return None
        if 400 <= response.status_code < 500 and response.status_code not in (408, 425, 429):
            # The receiver refuses this event: retrying will not help until someone
            # deploys a fix, but skipping it would break the receiver's order (the audit
            # chain). It stays at the head of the queue, retried with backoff, loud in
            # the logs and in the outbox backlog of /v1/status.
            log.error(
                "outbox.delivery.rejected",
                destination=row.destination,
                topic=row.topic,
                event_id=str(row.event_id),
                status=response.status_code,
            )
        return f"HTTP {response.status_code}: {response.text[:500]}"


EventHandler = Callable[[AsyncSession, EventEnvelope], Awaitable[None]]


async def _record_receipt(session: AsyncSession, envelope: EventEnvelope) -> bool:
    """Insert the event id; False when it was already received (a redelivery)."""
    values = {
        "event_id": envelope.id,
        "topic": envelope.topic,
        "source": envelope.source,
        "received_at": utcnow(),
    }
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(InboxEvent).values(**values).on_conflict_do_nothing()
    result = await session.execute(statement.returning(InboxEvent.event_id))
    return result.scalar_one_or_none() is not None


def event_router(handlers: Mapping[Topic, EventHandler]) -> APIRouter:
    router = APIRouter(tags=["internal"])

    @router.post(
        "/internal/events",
        response_model=EventReceipt,
        responses=error_responses(Unauthenticated, Forbidden, InvalidRequest),
    )
    async def receive_event(
        envelope: EventEnvelope,
        caller: CurrentCaller,
        session: AsyncSession = Depends(get_session, scope="function"),
    ) -> EventReceipt:
        """Receive one outbox event; a redelivered event id is acknowledged and ignored."""
        require_role(caller, Role.SERVICE)
        handler = handlers.get(envelope.topic)
        if handler is None:
            raise InvalidRequest(f"this service does not receive {envelope.topic}")
        if not await _record_receipt(session, envelope):
            log.info("event.duplicate", event_id=str(envelope.id), topic=envelope.topic)
            return EventReceipt(id=envelope.id, duplicate=True)
        await handler(session, envelope)
        return EventReceipt(id=envelope.id, duplicate=False)

    return router


async def pending_count(session: AsyncSession) -> tuple[int, datetime | None]:
    """Undelivered rows and the oldest one's time: the backlog an operator watches."""
    row = (
        await session.execute(
            select(func.count(), func.min(OutboxDelivery.occurred_at)).where(
                OutboxDelivery.delivered_at.is_(None)
            )
        )
    ).one()
    return int(row[0]), row[1]


KIT_METADATA = KitBase.metadata
"""The outbox and inbox tables, which every service's migrations create in its schema."""
