"""Writing events: a state change and its events commit in one transaction."""

import uuid
from collections.abc import Iterable, Sequence
from typing import cast

from pydantic import BaseModel
from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.events import SUBSCRIBERS, Topic
from services.kit.db import on_commit, utcnow
from services.kit.outbox._tables import OutboxDelivery
from services.kit.worker import PollingWorker

# Each running relay stream, by its receiver: a commit wakes the streams of the receivers
# it wrote to, so events go out at once instead of at the next poll.
streams_waiting: set[tuple[str, PollingWorker]] = set()


def _wake_streams(destinations: Iterable[str]) -> None:
    for destination, stream in list(streams_waiting):
        if destination in destinations:
            stream.wake()


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
    on_commit(session, lambda: _wake_streams(SUBSCRIBERS[topic]))
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
    destinations = {destination for topic, _ in events for destination in SUBSCRIBERS[topic]}
    on_commit(session, lambda: _wake_streams(destinations))
