from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit.config import Settings
from services.audit.service import log_service
from services.contracts.events import SUBSCRIBERS, EventEnvelope
from services.kit.app import create_service_app
from storage import create_object_store
from storage.object_store import StorageSettings


async def _append(session: AsyncSession, envelope: EventEnvelope) -> None:
    await log_service.append(session, envelope)


def create_app(
    settings: Settings | None = None, storage_settings: StorageSettings | None = None
) -> FastAPI:
    # Every chain event whose subscribers include the audit log is appended to it.
    handlers = {topic: _append for topic, receivers in SUBSCRIBERS.items() if "audit" in receivers}
    return create_service_app(
        "audit",
        settings or Settings(),
        event_handlers=handlers,
        object_store=create_object_store(storage_settings or StorageSettings()),
    )
