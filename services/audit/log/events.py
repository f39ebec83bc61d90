"""The events the log receives: every chain event whose subscribers include it."""

from collections.abc import Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.audit.log.service import log_service
from services.contracts.events import SUBSCRIBERS, EventEnvelope
from services.kit.db import on_commit
from services.kit.outbox import EventReceiver

LOGGED_TOPICS = frozenset(topic for topic, receivers in SUBSCRIBERS.items() if "audit" in receivers)


def log_receiver(*, on_recorded: Callable[[], None]) -> EventReceiver:
    """Records each batch as pending entries; `on_recorded` runs once they have committed
    (to sequence them at once)."""

    async def receive(session: AsyncSession, envelopes: Sequence[EventEnvelope]) -> None:
        await log_service.record(session, envelopes)
        on_commit(session, on_recorded)

    return EventReceiver(LOGGED_TOPICS, receive)
