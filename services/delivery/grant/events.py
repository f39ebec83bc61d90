"""The events delivery receives: licensing's grants, refunds and revocations, and the
catalogue's withdrawals and new files of works, which labs holding them hear of."""

import itertools
from collections.abc import Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.catalogue import WorkVersionPublished, WorkWithdrawn
from services.contracts.events import EventEnvelope, Topic
from services.contracts.licensing import LicenceGranted, LicenceRefunded, LicenceRevoked
from services.contracts.webhooks import WebhookEventType
from services.delivery.grant.service import grant_service
from services.delivery.manifest import Watermark
from services.delivery.webhook.service import webhook_service
from services.kit.db import on_commit
from services.kit.outbox import EventReceiver
from services.kit.tracing import event_traceparent


def grant_receiver(
    watermark: Watermark, *, on_granted: Callable[[], None], on_messages: Callable[[], None]
) -> EventReceiver:
    """Receives licensing's events in order (each run of grants together, a refund or a
    revocation on its own after the grants before it) and the catalogue's about works
    that labs hold licences of. `on_granted` runs once grants have committed (to start
    building at once), `on_messages` once webhook messages have (to send them at once)."""

    async def receive(session: AsyncSession, envelopes: Sequence[EventEnvelope]) -> None:
        for topic, run in itertools.groupby(envelopes, key=lambda envelope: envelope.topic):
            if topic == Topic.LICENCE_GRANTED:
                granted = list(run)
                grants = [LicenceGranted.model_validate(envelope.payload) for envelope in granted]
                # Each build in its own purchase's trace, if that purchase was traced.
                trace_parents = [event_traceparent(envelope.id) for envelope in granted]
                await grant_service.record(
                    session, grants, watermark=watermark, trace_parents=trace_parents
                )
                on_commit(session, on_granted)
            else:
                for envelope in run:
                    await _one(session, envelope)
                on_commit(session, on_messages)

    return EventReceiver(frozenset({Topic.LICENCE_GRANTED, *_ONE_BY_ONE}), receive)


async def _refunded(session: AsyncSession, envelope: EventEnvelope) -> None:
    await grant_service.record_refund(session, LicenceRefunded.model_validate(envelope.payload))


async def _revoked(session: AsyncSession, envelope: EventEnvelope) -> None:
    await grant_service.record_revocation(session, LicenceRevoked.model_validate(envelope.payload))


async def _withdrawn(session: AsyncSession, envelope: EventEnvelope) -> None:
    withdrawn = WorkWithdrawn.model_validate(envelope.payload)
    await webhook_service.enqueue_to_holders(
        session,
        withdrawn.work_id,
        WebhookEventType.WORK_WITHDRAWN,
        {"work_id": str(withdrawn.work_id), "withdrawn_at": withdrawn.withdrawn_at.isoformat()},
    )


async def _version_published(session: AsyncSession, envelope: EventEnvelope) -> None:
    published = WorkVersionPublished.model_validate(envelope.payload)
    await webhook_service.enqueue_to_holders(
        session,
        published.work_id,
        WebhookEventType.WORK_VERSION_PUBLISHED,
        {
            "work_id": str(published.work_id),
            "version_id": str(published.version_id),
            "sha256": published.sha256,
            "size": published.size,
            "published_at": published.published_at.isoformat(),
        },
    )


_ONE_BY_ONE = {
    Topic.LICENCE_REFUNDED: _refunded,
    Topic.LICENCE_REVOKED: _revoked,
    Topic.WORK_WITHDRAWN: _withdrawn,
    Topic.WORK_VERSION_PUBLISHED: _version_published,
}


async def _one(session: AsyncSession, envelope: EventEnvelope) -> None:
    await _ONE_BY_ONE[envelope.topic](session, envelope)
