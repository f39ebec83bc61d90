"""The events delivery receives from licensing: grants, refunds and revocations."""

import itertools
from collections.abc import Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.events import EventEnvelope, Topic
from services.contracts.licensing import LicenceGranted, LicenceRefunded, LicenceRevoked
from services.delivery.grant.service import grant_service
from services.delivery.manifest import Watermark
from services.kit.db import on_commit
from services.kit.outbox import EventReceiver


def grant_receiver(watermark: Watermark, *, on_granted: Callable[[], None]) -> EventReceiver:
    """Receives licensing's events in order: each run of grants together, a refund or a
    revocation on its own after the grants before it. `on_granted` runs once grants have
    committed (to start building at once)."""

    async def receive(session: AsyncSession, envelopes: Sequence[EventEnvelope]) -> None:
        for topic, run in itertools.groupby(envelopes, key=lambda envelope: envelope.topic):
            if topic == Topic.LICENCE_GRANTED:
                grants = [LicenceGranted.model_validate(envelope.payload) for envelope in run]
                await grant_service.record(session, grants, watermark=watermark)
                on_commit(session, on_granted)
            elif topic == Topic.LICENCE_REFUNDED:
                for envelope in run:
                    await grant_service.record_refund(
                        session, LicenceRefunded.model_validate(envelope.payload)
                    )
            else:
                for envelope in run:
                    await grant_service.record_revocation(
                        session, LicenceRevoked.model_validate(envelope.payload)
                    )

    return EventReceiver(
        frozenset({Topic.LICENCE_GRANTED, Topic.LICENCE_REFUNDED, Topic.LICENCE_REVOKED}),
        receive,
    )
