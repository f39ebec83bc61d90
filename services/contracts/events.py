"""Events that cross services through the outbox, and who receives each topic."""

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel


class Topic(StrEnum):
    ACCOUNT_REGISTERED = "account.registered"


SUBSCRIBERS: dict[Topic, tuple[str, ...]] = {
    Topic.ACCOUNT_REGISTERED: ("audit",),
}
"""Receiving services by topic; the outbox writes one delivery row per receiver."""


class EventEnvelope(BaseModel):
    id: UUID
    topic: Topic
    source: str
    occurred_at: datetime
    payload: dict[str, Any]


class EventReceipt(BaseModel):
    id: UUID
    duplicate: bool


class AccountRegistered(BaseModel):
    account_id: UUID
    name: str
    roles: list[str]
