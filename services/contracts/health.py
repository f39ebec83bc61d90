from datetime import datetime

from pydantic import BaseModel


class ServiceStatus(BaseModel):
    service: str
    schema_revision: str | None
    outbox_pending: int
    outbox_oldest_pending_at: datetime | None
    checked_at: datetime
