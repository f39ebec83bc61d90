"""Entitlements from licensing's events: a grant stores the licence, the lines it
delivers and a delivery to build; a refund revokes every link of the licence.

A delivery is built once per licence, after the grant has committed, from every line
licensing granted: the version sold, on the terms sold, even when the work has since
been withdrawn, its consent changed, or a newer version uploaded.
"""

from collections.abc import Sequence

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.licensing import (
    LicenceGranted,
    LicenceLineStatus,
    LicenceRefunded,
    LicenceRevoked,
    LicenceStatus,
)
from services.contracts.webhooks import WebhookEventType
from services.delivery.delivery.repository import DeliveryRepository
from services.delivery.grant.repository import Entitlement, KeyedLine, LicenceRepository
from services.delivery.manifest import Watermark
from services.delivery.webhook.service import webhook_service
from services.kit.db import utcnow
from services.kit.tracing import current_traceparent

log = structlog.get_logger()


def ended_message(status: LicenceStatus) -> str:
    """Why a licence's links are refused, in the buyer's words."""
    if status == LicenceStatus.REVOKED:
        return "the licence was revoked: its files no longer download"
    return "the licence was refunded and revoked"


class GrantService:
    async def record(
        self,
        session: AsyncSession,
        grants: Sequence[LicenceGranted],
        *,
        watermark: Watermark,
        trace_parents: Sequence[str | None] | None = None,
    ) -> None:
        """Store each grant's entitlement and a delivery to build (the builder does the
        rest), to be built in the trace of `trace_parents` (one per grant; by default the
        request's). A licence already known, from another event, is left as it is."""
        licences = LicenceRepository(session)
        known = await licences.existing_ids([granted.licence_id for granted in grants])
        if trace_parents is None:
            trace_parents = [current_traceparent()] * len(grants)
        entitlements = []
        builds_traced_in = []
        for granted, trace_parent in zip(grants, trace_parents, strict=True):
            if granted.licence_id in known:
                log.info("delivery.grant.duplicate", licence_id=str(granted.licence_id))
                continue
            known.add(granted.licence_id)
            builds_traced_in.append(trace_parent)
            licence_text = str(granted.licence_id)
            entitlements.append(
                Entitlement(
                    granted=granted,
                    lines=[
                        KeyedLine(line, watermark.order_key(licence_text, str(line.work_id)))
                        for line in granted.lines
                        if line.status == LicenceLineStatus.ACTIVE
                    ],
                )
            )
        if not entitlements:
            return
        now = utcnow()
        await licences.add(entitlements, received_at=now)
        await DeliveryRepository(session).add_to_build(
            [entitlement.granted for entitlement in entitlements],
            created_at=now,
            trace_parents=builds_traced_in,
        )

    async def record_refund(self, session: AsyncSession, refunded: LicenceRefunded) -> None:
        """From now on every link of the licence is refused."""
        licence = await LicenceRepository(session).get(refunded.licence_id, for_update=True)
        if licence is None:
            # Licensing relays a licence's grant before its refund, so this is a bug
            # upstream; acknowledging keeps the events behind it flowing.
            log.error("delivery.refund.unknown_licence", licence_id=str(refunded.licence_id))
            return
        # A revoked licence refunded later is refunded: its money went back too.
        if licence.status == LicenceStatus.REFUNDED:
            return
        licence.status = LicenceStatus.REFUNDED
        licence.refunded_at = refunded.refunded_at
        await webhook_service.enqueue(
            session,
            licence.buyer_id,
            WebhookEventType.LICENCE_REFUNDED,
            {
                "licence_id": str(licence.id),
                "refunded_at": refunded.refunded_at.isoformat(),
                "reason": refunded.reason,
            },
        )
        await session.flush()
        log.info("delivery.licence.revoked", licence_id=str(licence.id), refunded=True)

    async def record_revocation(self, session: AsyncSession, revoked: LicenceRevoked) -> None:
        """As a refund, for the links: from now on every one of them is refused."""
        licence = await LicenceRepository(session).get(revoked.licence_id, for_update=True)
        if licence is None:
            log.error("delivery.revocation.unknown_licence", licence_id=str(revoked.licence_id))
            return
        if licence.status != LicenceStatus.ACTIVE:
            return
        licence.status = LicenceStatus.REVOKED
        await webhook_service.enqueue(
            session,
            licence.buyer_id,
            WebhookEventType.LICENCE_REVOKED,
            {
                "licence_id": str(licence.id),
                "revoked_at": revoked.revoked_at.isoformat(),
                "reason": revoked.reason,
            },
        )
        await session.flush()
        log.info("delivery.licence.revoked", licence_id=str(licence.id), refunded=False)


grant_service = GrantService()
