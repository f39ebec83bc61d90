from sqlalchemy.ext.asyncio import AsyncSession

from services.audit.models import LogEntry
from services.contracts.events import EventEnvelope
from services.kit.db import utcnow


class LogService:
    async def append(self, session: AsyncSession, envelope: EventEnvelope) -> LogEntry:
        """Called inside the inbox transaction, so a redelivered event is never appended twice."""
        entry = LogEntry(
            event_id=envelope.id,
            topic=envelope.topic,
            source=envelope.source,
            occurred_at=envelope.occurred_at,
            received_at=utcnow(),
            payload=envelope.payload,
        )
        session.add(entry)
        await session.flush()
        return entry


log_service = LogService()
