"""A build's transactions: leasing due deliveries, reading their lines, renewing a
lease, and issuing or postponing each delivery (`assemble` does the rest, with no
transaction open)."""

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.delivery import DeliveryIssued, DeliveryStatus
from services.contracts.events import Topic
from services.contracts.webhooks import WebhookEventType
from services.delivery.builder.assemble import BUILD_CHUNK, Built, Leased
from services.delivery.builder.repository import LineRepository
from services.delivery.delivery.repository import DeliveryRepository, EntryRepository
from services.delivery.grant.repository import LicenceRepository
from services.delivery.webhook.service import webhook_service
from services.kit.db import utcnow
from services.kit.outbox import backoff, emit

log = structlog.get_logger()


class BuildService:
    async def lease(
        self, session: AsyncSession, *, limit: int, lease_for: timedelta
    ) -> list[Leased]:
        """Up to `limit` due deliveries, oldest first, held for `lease_for`."""
        now = utcnow()
        deliveries = await DeliveryRepository(session).claim_due(now, limit=limit)
        if not deliveries:
            return []
        licences = {
            licence.id: licence
            for licence in await LicenceRepository(session).get_many(
                [delivery.licence_id for delivery in deliveries]
            )
        }
        leased = []
        for delivery in deliveries:
            delivery.lease_id = uuid.uuid4()
            delivery.next_attempt_at = now + lease_for
            licence = licences[delivery.licence_id]
            leased.append(
                Leased(
                    lease_id=delivery.lease_id,
                    delivery_id=delivery.id,
                    licence_id=licence.id,
                    bundle_id=licence.bundle_id,
                    buyer_id=licence.buyer_id,
                    buyer_name=licence.buyer_name,
                    uses=tuple(licence.uses),
                    trace_parent=delivery.trace_parent,
                )
            )
        await session.flush()
        return leased

    async def renew(self, session: AsyncSession, leased: Leased, *, lease_for: timedelta) -> bool:
        delivery = await DeliveryRepository(session).get(leased.delivery_id, for_update=True)
        if delivery is None or delivery.lease_id != leased.lease_id:
            return False
        delivery.next_attempt_at = utcnow() + lease_for
        await session.flush()
        return True

    async def first_chunks(
        self, session: AsyncSession, leased: Sequence[Leased]
    ) -> dict[uuid.UUID, list[Row[Any]]]:
        """The first chunk of each licence's lines, in one statement: the whole of a
        small bundle."""
        return await LineRepository(session).first_lines(
            [held.licence_id for held in leased], limit=BUILD_CHUNK
        )

    async def lines_after(
        self, session: AsyncSession, licence_id: uuid.UUID, order_key: str
    ) -> Sequence[Row[Any]]:
        return await LineRepository(session).lines_in_order(
            licence_id, after=order_key, limit=BUILD_CHUNK
        )

    async def issue(self, session: AsyncSession, built: Built) -> DeliveryIssued | None:
        """Record the entries and issue the delivery, unless its lease was lost."""
        leased = built.leased
        delivery = await DeliveryRepository(session).get(leased.delivery_id, for_update=True)
        if (
            delivery is None
            or delivery.status != DeliveryStatus.BUILDING
            or delivery.lease_id != leased.lease_id
        ):
            log.warning("delivery.build.lease_lost", delivery_id=str(leased.delivery_id))
            return None
        await EntryRepository(session).add(delivery, built.entries, licence_id=leased.licence_id)
        delivery.status = DeliveryStatus.ISSUED if built.entries else DeliveryStatus.EMPTY
        delivery.issued_at = built.issued_at
        delivery.entry_count = len(built.entries)
        delivery.watermark_commitment = built.watermark_commitment
        delivery.key_id = built.key_id if built.entries else None
        delivery.manifest_key = built.manifest_key
        delivery.manifest_sha256 = built.manifest_sha256
        delivery.excluded = [left_out.model_dump(mode="json") for left_out in built.excluded]
        delivery.lease_id = None
        delivery.last_error = None
        issued = DeliveryIssued(
            delivery_id=delivery.id,
            licence_id=leased.licence_id,
            buyer_id=leased.buyer_id,
            status=delivery.status,
            issued_at=built.issued_at,
            manifest_key=built.manifest_key,
            manifest_sha256=built.manifest_sha256,
            key_id=built.key_id,
            entry_count=delivery.entry_count,
            excluded=built.excluded,
            watermark_commitment=built.watermark_commitment,
        )
        emit(session, Topic.DELIVERY_ISSUED, issued)
        await webhook_service.enqueue(
            session,
            leased.buyer_id,
            WebhookEventType.DELIVERY_ISSUED,
            {
                "delivery_id": str(delivery.id),
                "licence_id": str(leased.licence_id),
                "status": delivery.status.value,
                "entry_count": delivery.entry_count,
                "excluded_work_ids": [str(left_out.work_id) for left_out in built.excluded],
                "issued_at": built.issued_at.isoformat(),
            },
        )
        log.info(
            "delivery.issued",
            delivery_id=str(delivery.id),
            status=delivery.status,
            entries=delivery.entry_count,
            excluded=len(built.excluded),
        )
        return issued

    async def postpone(
        self, session: AsyncSession, leased: Leased, *, error: str, max_backoff: float
    ) -> None:
        """A failed build runs again later, with backoff, by whichever replica is free."""
        delivery = await DeliveryRepository(session).get(leased.delivery_id, for_update=True)
        if delivery is None or delivery.lease_id != leased.lease_id:
            return
        delivery.lease_id = None
        delivery.attempts += 1
        delivery.next_attempt_at = utcnow() + backoff(delivery.attempts, max_seconds=max_backoff)
        delivery.last_error = error[:2_000]
        await session.flush()


build_service = BuildService()
