"""The outbox and inbox tables, which every service's migrations create in its schema."""

import uuid
from datetime import datetime
from typing import Any

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
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from services.kit.db import KitBase, UTCDateTime


class OutboxDelivery(KitBase):
    """One row per (event, receiving service): each receiver is delivered independently.

    `next_attempt_at` is also the relay's lease: a relay that claims a receiver's rows
    moves it to the lease's end, so no other relay sends them meanwhile, and a crashed
    relay's claim lapses on its own. The exact value names the claim, so only the relay
    that holds it reschedules the rows after a failure."""

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
    # The W3C traceparent of the request that wrote the event, if it was traced: the
    # receiver's work joins that trace.
    trace_parent: Mapped[str | None] = mapped_column(String(128))


class InboxEvent(KitBase):
    __tablename__ = "inbox_event"

    event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    topic: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(50))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


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
