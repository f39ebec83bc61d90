"""Transactional outbox, its relay, and the idempotent inbox that receives its events.

A state change and its event commit in one transaction (`emit`); the relay then delivers
each event to every subscribed service at least once, in order per receiver, retrying
with backoff; receivers record the event id in the same transaction as its effect, so a
redelivery does nothing. The order is insert order: on PostgreSQL it is the commit
order only within a transaction and between transactions serialised by a lock taken
before they insert (see `_relay`). A commit wakes the relay streams of its receivers
through the service's `RelayWakeups`.
"""

from services.kit.outbox._emit import emit, emit_all
from services.kit.outbox._inbox import (
    BatchEventHandler,
    EventHandler,
    EventReceiver,
    event_router,
)
from services.kit.outbox._relay import OutboxRelay, backoff
from services.kit.outbox._tables import (
    KIT_METADATA,
    InboxEvent,
    OutboxDelivery,
    pending_count,
)
from services.kit.outbox._wakeups import RelayWakeups

__all__ = [
    "KIT_METADATA",
    "BatchEventHandler",
    "EventHandler",
    "EventReceiver",
    "InboxEvent",
    "OutboxDelivery",
    "OutboxRelay",
    "RelayWakeups",
    "backoff",
    "emit",
    "emit_all",
    "event_router",
    "pending_count",
]
