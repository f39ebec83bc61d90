"""Transactional outbox, its relay, and the idempotent inbox that receives its events.

A state change and its event commit in one transaction (`emit`); the relay then delivers
each event to every subscribed service at least once, retrying with backoff; receivers
record the event id in the same transaction as its effect, so a redelivery does nothing.
"""

import asyncio
import contextlib
import math
import random
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import structlog
from fastapi import APIRouter, Depends
from pydantic import BaseModel, ValidationError
from sqlalchemy import (
    JSON,
    BigInteger,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, aliased, mapped_column

from services.contracts.events import (
    SUBSCRIBERS,
    EventBatch,
    EventBatchReceipt,
    EventEnvelope,
    EventReceipt,
    Topic,
)
from services.contracts.roles import Role
from services.kit.client import Transport, TransportFailed
from services.kit.db import KitBase, UTCDateTime, get_session, on_commit, utcnow
from services.kit.errors import (
    FieldError,
    Forbidden,
    InvalidRequest,
    Unauthenticated,
    error_responses,
)
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


async def emit_all(session: AsyncSession, events: Sequence[tuple[Topic, BaseModel]]) -> None:
    """`emit` for several events at once, in order: one INSERT now instead of an object
    per row for the next flush (so rows `emit` left unflushed are written after these)."""
    now = utcnow()
    rows = [
        {
            "event_id": event_id,
            "topic": topic,
            "destination": destination,
            "payload": body,
            "occurred_at": now,
            "attempts": 0,
            "next_attempt_at": now,
        }
        for event_id, topic, body in (
            (uuid.uuid4(), topic, payload.model_dump(mode="json")) for topic, payload in events
        )
        for destination in SUBSCRIBERS[topic]
    ]
    if rows:
        await session.execute(insert(cast(Table, OutboxDelivery.__table__)), rows)
    on_commit(session, _wake_relays)


def backoff(attempts: int, *, max_seconds: float) -> timedelta:
    """Exponential with full jitter, so a recovering receiver is not hit by a stampede."""
    ceiling = min(max_seconds, 0.5 * 2 ** min(attempts, 20))
    return timedelta(seconds=random.uniform(ceiling / 2, ceiling))


# The body of POST /internal/events/batch (`EventBatch`) around envelopes serialised once.
_BATCH_OPEN = b'{"events":['
_BATCH_CLOSE = b"]}"


@dataclass(frozen=True)
class _Failure:
    error: str
    # The receiver answered and refuses the request itself: resending it as is will not help.
    refused: bool = False


class OutboxRelay:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        source: str,
        destinations: Mapping[str, str],
        signer: TokenSigner,
        http: Transport,
        poll_seconds: float = 0.5,
        max_backoff_seconds: float = 300.0,
        batch_size: int = 100,
        max_batch_bytes: int = 512 * 1024,
        gather_seconds: float = 0.05,
    ) -> None:
        """`batch_size` bounds the rows relayed per pass, and so the events per request;
        `max_batch_bytes` keeps a request well under a receiver's body cap (1 MiB by
        default), though one event alone is sent whatever its size. After a pass that
        relayed several events, the next starts `gather_seconds` after it: under a stream
        of commits each request then carries many events, not one (every request is a
        transaction at the receiver and a pass one here)."""
        self._sessionmaker = sessionmaker
        self._source = source
        self._destinations = destinations
        self._signer = signer
        self._http = http
        self._poll_seconds = poll_seconds
        self._max_backoff_seconds = max_backoff_seconds
        self._batch_size = batch_size
        self._max_batch_bytes = max_batch_bytes
        self._gather_seconds = gather_seconds

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        waiting = (loop, asyncio.Event())
        _relays_waiting.add(waiting)
        last_pass = -math.inf
        delivered = 0
        try:
            while True:
                if 1 < delivered < self._batch_size:
                    # Commits are streaming in: gather them, so the next request carries
                    # many. A lone event goes at once (a creator naming a partner who
                    # registered a moment ago should not wait on the gathering), and a
                    # full pass means a backlog is already waiting.
                    await asyncio.sleep(max(0.0, last_pass + self._gather_seconds - loop.time()))
                last_pass = loop.time()
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
            delivered = [row.id for rows in results for row in rows]
            if delivered:
                # One statement for the pass, rather than one per row at the flush.
                table = cast(Table, OutboxDelivery.__table__)
                await session.execute(
                    update(table).where(table.c.id.in_(delivered)).values(delivered_at=utcnow())
                )
            return len(delivered)

    async def _deliver_in_order(self, rows: list[OutboxDelivery]) -> list[OutboxDelivery]:
        """Send one receiver's rows, oldest first, in as few requests as the bounds allow;
        returns those the receiver acknowledged (the caller marks them delivered)."""
        destination = rows[0].destination
        base_url = self._destinations.get(destination)
        if base_url is None:
            self._retry_later(rows, f"no address configured for {destination}")
            return []
        bodies, unreadable = self._serialise(rows)
        delivered = 0
        for end in self._batch_ends(bodies):
            failure = await self._send(base_url, rows[delivered:end], bodies[delivered:end])
            if failure is not None and failure.refused and end - delivered > 1:
                # Find out which event the receiver refuses, and deliver the ones before
                # it; this also serves a receiver not yet upgraded to the batch endpoint.
                log.warning(
                    "outbox.delivery.batch_refused",
                    destination=destination,
                    events=end - delivered,
                    error=failure.error,
                )
                for row, body in zip(rows[delivered:end], bodies[delivered:end], strict=True):
                    failure = await self._send(base_url, [row], [body])
                    if failure is not None:
                        break
                    delivered += 1
            if failure is not None:
                self._retry_later(rows[delivered:], failure.error)
                return rows[:delivered]
            delivered = end
        if unreadable is not None:
            self._retry_later(rows[delivered:], unreadable)
        return rows[:delivered]

    def _serialise(self, rows: list[OutboxDelivery]) -> tuple[list[bytes], str | None]:
        """The envelopes of the rows up to the first this version cannot read, and why
        that one cannot be read."""
        bodies: list[bytes] = []
        for row in rows:
            try:
                envelope = EventEnvelope(
                    id=row.event_id,
                    topic=Topic(row.topic),
                    source=self._source,
                    occurred_at=row.occurred_at,
                    payload=row.payload,
                )
            except ValueError as exc:
                # A row this version cannot read (e.g. a topic since removed) must not
                # stop the relay for other receivers; it holds up its own receiver only.
                log.error("outbox.delivery.unreadable", event_id=str(row.event_id), error=str(exc))
                return bodies, f"unreadable: {exc}"
            bodies.append(envelope.model_dump_json().encode())
        return bodies, None

    def _batch_ends(self, bodies: list[bytes]) -> list[int]:
        """Where each request's events end: at most `max_batch_bytes` of body, but always
        at least one event. (A pass relays at most `batch_size` rows, so no request
        carries more events than that.)"""
        ends: list[int] = []
        start, size = 0, len(_BATCH_OPEN) + len(_BATCH_CLOSE)
        for index, body in enumerate(bodies):
            added = len(body) + (index > start)  # and a comma after the previous one
            if index > start and size + added > self._max_batch_bytes:
                ends.append(index)
                start, size, added = index, len(_BATCH_OPEN) + len(_BATCH_CLOSE), len(body)
            size += added
        if bodies:
            ends.append(len(bodies))
        return ends

    def _retry_later(self, rows: list[OutboxDelivery], error: str) -> None:
        # Keep a receiver's events in order: the rest of this receiver's rows wait for
        # the failed one's retry.
        head = rows[0]
        retry_at = utcnow() + backoff(head.attempts + 1, max_seconds=self._max_backoff_seconds)
        for row in rows:
            row.attempts += 1
            row.next_attempt_at = retry_at
            row.last_error = error if row is head else "waiting for an earlier event"
        log.warning(
            "outbox.delivery.retry",
            destination=head.destination,
            topic=head.topic,
            event_id=str(head.event_id),
            attempts=head.attempts,
            error=error,
        )

    async def _send(
        self, base_url: str, rows: list[OutboxDelivery], bodies: list[bytes]
    ) -> _Failure | None:
        """POST one event to the single endpoint, or several to the batch endpoint."""
        head = rows[0]
        if len(bodies) == 1:
            path, content = "/internal/events", bodies[0]
        else:
            path, content = "/internal/events/batch", _BATCH_OPEN + b",".join(bodies) + _BATCH_CLOSE
        token = self._signer.sign(
            subject=f"service:{self._source}",
            roles=frozenset({Role.SERVICE}),
            audience=head.destination,
        )
        try:
            response = await self._http.send(
                "POST",
                base_url.rstrip("/") + path,
                content=content,
                headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
            )
        except TransportFailed as exc:
            return _Failure(str(exc))
        if response.status_code == 200:
            return None
        refused = 400 <= response.status_code < 500 and response.status_code not in (408, 425, 429)
        if refused and len(rows) == 1:
            # The receiver refuses this event: retrying will not help until someone
            # deploys a fix, but skipping it would break the receiver's order (the audit
            # chain). It stays at the head of the queue, retried with backoff, loud in
            # the logs and in the outbox backlog of /v1/status.
            log.error(
                "outbox.delivery.rejected",
                destination=head.destination,
                topic=head.topic,
                event_id=str(head.event_id),
                status=response.status_code,
            )
        return _Failure(f"HTTP {response.status_code}: {response.text[:500]}", refused=refused)


EventHandler = Callable[[AsyncSession, EventEnvelope], Awaitable[None]]
BatchEventHandler = Callable[[AsyncSession, Sequence[EventEnvelope]], Awaitable[None]]


@dataclass(frozen=True)
class EventReceiver:
    """What a service receives: its topics, and the handler of one request's new events
    (in order, in the request's transaction). A receiver that can write a whole batch at
    once (the audit log's intake) says so here; others handle one event at a time."""

    topics: frozenset[Topic]
    handle: BatchEventHandler

    @classmethod
    def per_event(cls, handlers: Mapping[Topic, EventHandler]) -> "EventReceiver":
        async def handle(session: AsyncSession, envelopes: Sequence[EventEnvelope]) -> None:
            for envelope in envelopes:
                await handlers[envelope.topic](session, envelope)

        return cls(frozenset(handlers), handle)


async def _record_receipts(
    session: AsyncSession, envelopes: Sequence[EventEnvelope]
) -> set[uuid.UUID]:
    """Insert the event ids (an executemany, batched into few statements by the driver
    layer); returns those not received before."""
    now = utcnow()
    values = [
        {
            "event_id": envelope.id,
            "topic": envelope.topic,
            "source": envelope.source,
            "received_at": now,
        }
        for envelope in envelopes
    ]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # On the table, not the mapped class: the same SQL without the ORM's bulk machinery.
    # Rows as parameters, not `.values(rows)`: a statement with the rows inlined is
    # compiled anew for every batch size, which cost more CPU than running it.
    table = cast(Table, InboxEvent.__table__)
    statement = insert(table).on_conflict_do_nothing().returning(table.c.event_id)
    result = await session.execute(statement, values)
    return set(result.scalars())


async def _receive(
    session: AsyncSession, receiver: EventReceiver, envelopes: Sequence[EventEnvelope]
) -> list[EventReceipt]:
    """Handle the events in order, in the caller's transaction; redelivered ids are
    acknowledged and skipped. An event this service does not receive refuses them all."""
    for envelope in envelopes:
        if envelope.topic not in receiver.topics:
            raise InvalidRequest(f"this service does not receive {envelope.topic}")
    new = await _record_receipts(session, envelopes)
    receipts: list[EventReceipt] = []
    handled: list[EventEnvelope] = []
    for envelope in envelopes:
        if envelope.id not in new:
            log.info("event.duplicate", event_id=str(envelope.id), topic=envelope.topic)
            receipts.append(EventReceipt(id=envelope.id, duplicate=True))
            continue
        # A second copy later in the same batch is a redelivery too.
        new.discard(envelope.id)
        handled.append(envelope)
        receipts.append(EventReceipt(id=envelope.id, duplicate=False))
    if handled:
        try:
            await receiver.handle(session, handled)
        except ValidationError as exc:
            # A payload that does not fit its topic's contract is refused, not a 500: the
            # sender's relay then finds the one event refused and keeps it at its head.
            fields = [
                FieldError(".".join(map(str, ("payload", *e["loc"]))), e["msg"], e["type"])
                for e in exc.errors()
            ]
            raise InvalidRequest(
                "an event's payload does not fit its topic", fields=fields
            ) from exc
    return receipts


def event_router(receiver: EventReceiver) -> APIRouter:
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
        (receipt,) = await _receive(session, receiver, [envelope])
        return receipt

    @router.post(
        "/internal/events/batch",
        response_model=EventBatchReceipt,
        responses=error_responses(Unauthenticated, Forbidden, InvalidRequest),
    )
    async def receive_events(
        batch: EventBatch,
        caller: CurrentCaller,
        session: AsyncSession = Depends(get_session, scope="function"),
    ) -> EventBatchReceipt:
        """Receive outbox events in order, all in one transaction; redelivered event ids
        are acknowledged and ignored."""
        require_role(caller, Role.SERVICE)
        return EventBatchReceipt(receipts=await _receive(session, receiver, batch.events))

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
