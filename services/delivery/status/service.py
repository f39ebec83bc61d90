"""A delivery's status list, computed from delivery's own records each time it is read
and signed then: it is never stale when served, and needs no table of its own.

A record's bit is set once it may no longer be used: its licence refunded or revoked,
or its line's duration over. The list is valid for a short while (a setting), and never
past the next end of one of its lines, so a cached list cannot outlive a record's end.
"""

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from assent.protocol import Signer, canonical_json, encode_bits, status_list_id
from services.contracts.delivery import DeliveryStatus
from services.contracts.licensing import LicenceStatus
from services.contracts.status_list import (
    STATUS_LIST_TYPE,
    BitstringStatusList,
    StatusListCredential,
    StatusListRead,
)
from services.delivery.delivery.service import delivery_service
from services.delivery.errors import DeliveryNotReady
from services.delivery.grant.repository import LicenceRepository
from services.delivery.models import DeliveryEntry, LicenceLine
from services.kit.db import utcnow
from services.kit.internal_token import Caller

ISSUER = "urn:assent:delivery"


class StatusListService:
    async def status_list(
        self,
        session: AsyncSession,
        caller: Caller,
        delivery_id: uuid.UUID,
        *,
        signer: Signer,
        valid_for: timedelta,
    ) -> StatusListRead:
        delivery = await delivery_service.visible(session, caller, delivery_id)
        if delivery.status == DeliveryStatus.BUILDING:
            raise DeliveryNotReady("the delivery is still being built")
        licence = await LicenceRepository(session).get(delivery.licence_id)
        assert licence is not None
        now = utcnow()
        statement = (
            select(DeliveryEntry.position, LicenceLine.ends_at)
            .join(
                LicenceLine,
                (LicenceLine.licence_id == DeliveryEntry.licence_id)
                & (LicenceLine.work_id == DeliveryEntry.work_id),
            )
            .where(DeliveryEntry.delivery_id == delivery.id)
        )
        ends = dict((await session.execute(statement)).tuples().all())
        ended = licence.status != LicenceStatus.ACTIVE
        revoked = [p for p, ends_at in ends.items() if ended or ends_at <= now]
        upcoming = [ends_at for ends_at in ends.values() if ends_at > now]
        valid_until: datetime = min([now + valid_for, *([] if ended else upcoming)])
        credential = StatusListCredential(
            id=status_list_id(delivery.id),
            issuer=ISSUER,
            valid_from=now,
            valid_until=valid_until,
            credential_subject=BitstringStatusList(
                id=status_list_id(delivery.id) + "#list",
                encoded_list=encode_bits(revoked, len(ends)),
                delivery_id=delivery.id,
                licence_id=licence.id,
                entry_count=len(ends),
            ),
        )
        envelope = signer.sign(STATUS_LIST_TYPE, canonical_json(credential.model_dump(mode="json")))
        return StatusListRead(envelope=envelope)


status_list_service = StatusListService()
