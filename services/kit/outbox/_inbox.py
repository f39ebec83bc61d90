"""Receiving events: the idempotent inbox and the endpoints a relay posts to."""

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import cast

import structlog
from fastapi import APIRouter, Depends
from opentelemetry.trace import Tracer
from pydantic import ValidationError
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.events import (
    PUBLISHERS,
    EventBatch,
    EventBatchReceipt,
    EventEnvelope,
    EventReceipt,
    Topic,
)
from services.contracts.roles import Role
from services.kit.db import dialect_insert, get_session, utcnow
from services.kit.errors import (
    FieldError,
    Forbidden,
    InvalidRequest,
    Unauthenticated,
    error_responses,
)
from services.kit.internal_token import GATEWAY, Caller, PublishingCaller, require_role
from services.kit.outbox._tables import InboxEvent
from services.kit.tracing import events_written_in, receiving_spans

log = structlog.get_logger()

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

    @property
    def publishers(self) -> frozenset[str]:
        """The issuers whose relays post this receiver's topics."""
        return frozenset(issuer for topic in self.topics for issuer in publishers(topic))


def publishers(topic: Topic) -> tuple[str, ...]:
    source = PUBLISHERS[topic]
    return (source,) if isinstance(source, str) else source


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
    # On the table, not the mapped class: the same SQL without the ORM's bulk machinery.
    # Rows as parameters, not `.values(rows)`: a statement with the rows inlined is
    # compiled anew for every batch size, which cost more CPU than running it.
    table = cast(Table, InboxEvent.__table__)
    statement = dialect_insert(session)(table).on_conflict_do_nothing().returning(table.c.event_id)
    result = await session.execute(statement, values)
    return set(result.scalars())


async def _receive(
    session: AsyncSession,
    receiver: EventReceiver,
    envelopes: Sequence[EventEnvelope],
    *,
    caller: Caller,
    tracer: Tracer,
    trace_parents: Sequence[str | None] | None = None,
) -> list[EventReceipt]:
    """Handle the events in order, in the caller's transaction; redelivered ids are
    acknowledged and skipped. An event this service does not receive, or that the
    caller does not publish, refuses them all. `trace_parents` are the traces the events
    were written in (one per event)."""
    require_role(caller, Role.SERVICE)
    for envelope in envelopes:
        if envelope.topic not in receiver.topics:
            raise InvalidRequest(f"this service does not receive {envelope.topic}")
        # The gateway, which may already act as any admin, is not narrowed further.
        if caller.issuer != GATEWAY and caller.issuer not in publishers(envelope.topic):
            raise Forbidden(f"{caller.issuer} does not publish {envelope.topic}")
    new = await _record_receipts(session, envelopes)
    receipts: list[EventReceipt] = []
    handled: list[EventEnvelope] = []
    handled_traces: list[str | None] = []
    for index, envelope in enumerate(envelopes):
        if envelope.id not in new:
            log.info("event.duplicate", event_id=str(envelope.id), topic=envelope.topic)
            receipts.append(EventReceipt(id=envelope.id, duplicate=True))
            continue
        # A second copy later in the same batch is a redelivery too.
        new.discard(envelope.id)
        handled.append(envelope)
        handled_traces.append(trace_parents[index] if trace_parents else None)
        receipts.append(EventReceipt(id=envelope.id, duplicate=False))
    if handled:
        try:
            written_in = (
                dict(zip((envelope.id for envelope in handled), handled_traces, strict=True))
                if trace_parents
                else {}
            )
            with receiving_spans(tracer, handled_traces), events_written_in(written_in):
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


def event_router(receiver: EventReceiver, *, tracer: Tracer) -> APIRouter:
    """A request's trace continues the relay's (its `traceparent`); the events of a batch
    written in other traces are also received in those (`EventBatch.trace_parents`)."""
    router = APIRouter(tags=["internal"])

    @router.post(
        "/internal/events",
        response_model=EventReceipt,
        responses=error_responses(Unauthenticated, Forbidden, InvalidRequest),
    )
    async def receive_event(
        envelope: EventEnvelope,
        caller: PublishingCaller,
        session: AsyncSession = Depends(get_session, scope="function"),
    ) -> EventReceipt:
        """Receive one outbox event; a redelivered event id is acknowledged and ignored."""
        (receipt,) = await _receive(session, receiver, [envelope], caller=caller, tracer=tracer)
        return receipt

    @router.post(
        "/internal/events/batch",
        response_model=EventBatchReceipt,
        responses=error_responses(Unauthenticated, Forbidden, InvalidRequest),
    )
    async def receive_events(
        batch: EventBatch,
        caller: PublishingCaller,
        session: AsyncSession = Depends(get_session, scope="function"),
    ) -> EventBatchReceipt:
        """Receive outbox events in order, all in one transaction; redelivered event ids
        are acknowledged and ignored."""
        receipts = await _receive(
            session,
            receiver,
            batch.events,
            caller=caller,
            tracer=tracer,
            trace_parents=batch.trace_parents,
        )
        return EventBatchReceipt(receipts=receipts)

    return router
