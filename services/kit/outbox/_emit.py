"""Writing events: a state change and its events commit in one transaction."""

import uuid
from collections.abc import Collection, Sequence
from typing import cast

from pydantic import BaseModel
from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.events import SUBSCRIBERS, Topic
from services.kit.db import on_commit, utcnow
from services.kit.outbox._tables import OutboxDelivery
from services.kit.outbox._wakeups import RelayWakeups
from services.kit.tracing import current_traceparent


def _wake_on_commit(session: AsyncSession, destinations: Collection[str]) -> None:
    wakeups = RelayWakeups.of(session)
    if wakeups is not None:
        on_commit(session, lambda: wakeups.wake(destinations))


def emit(session: AsyncSession, topic: Topic, payload: BaseModel) -> uuid.UUID:
    """Add `topic` to the current transaction's outbox; it is relayed once committed."""
    event_id = uuid.uuid4()
    now = utcnow()
    body = payload.model_dump(mode="json")
    trace_parent = current_traceparent()
    for destination in SUBSCRIBERS[topic]:
        session.add(
            OutboxDelivery(
                event_id=event_id,
                topic=topic,
                destination=destination,
                payload=body,
                occurred_at=now,
                next_attempt_at=now,
                trace_parent=trace_parent,
            )
        )
    _wake_on_commit(session, SUBSCRIBERS[topic])
    return event_id


async def emit_all(session: AsyncSession, events: Sequence[tuple[Topic, BaseModel]]) -> None:
    """`emit` for several events at once, in order: one INSERT now instead of an object
    per row for the next flush (so rows `emit` left unflushed are written after these)."""
    now = utcnow()
    trace_parent = current_traceparent()
    rows = [
        {
            "event_id": event_id,
            "topic": topic,
            "destination": destination,
            "payload": body,
            "occurred_at": now,
            "attempts": 0,
            "next_attempt_at": now,
            "trace_parent": trace_parent,
        }
        for event_id, topic, body in (
            (uuid.uuid4(), topic, payload.model_dump(mode="json")) for topic, payload in events
        )
        for destination in SUBSCRIBERS[topic]
    ]
    if rows:
        await session.execute(insert(cast(Table, OutboxDelivery.__table__)), rows)
    destinations = {destination for topic, _ in events for destination in SUBSCRIBERS[topic]}
    _wake_on_commit(session, destinations)
