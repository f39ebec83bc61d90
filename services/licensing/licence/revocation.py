"""Revoking a licence without a refund: the buyer broke its terms, so nothing of it may
be used from now on, while the money stays where the sale put it. A revoked licence may
still be refunded later (money back); a refunded one is already revoked."""

import uuid

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.events import Topic
from services.contracts.licensing import LicenceRead, LicenceRevoked, LicenceStatus, RevokeIn
from services.kit.db import utcnow
from services.kit.errors import NotFound
from services.kit.internal_token import Caller
from services.kit.outbox import emit
from services.licensing.errors import LicenceNotUsable
from services.licensing.licence.repository import LicenceRepository
from services.licensing.licence.service import licence_read
from services.licensing.rules import require_account

log = structlog.get_logger()


class RevocationService:
    async def revoke(
        self, session: AsyncSession, caller: Caller, licence_id: uuid.UUID, revoke: RevokeIn
    ) -> LicenceRead:
        """Revoking a revoked licence again answers it as it is."""
        admin_id = require_account(caller)
        licence = await LicenceRepository(session).lock(licence_id)
        if licence is None:
            raise NotFound("no such licence")
        if licence.status == LicenceStatus.REFUNDED:
            raise LicenceNotUsable("this licence was refunded, which already revoked it")
        if licence.status == LicenceStatus.ACTIVE:
            now = utcnow()
            licence.status = LicenceStatus.REVOKED
            licence.revoked_at = now
            licence.revoked_by = admin_id
            licence.revocation_reason = revoke.reason
            emit(
                session,
                Topic.LICENCE_REVOKED,
                LicenceRevoked(
                    licence_id=licence.id,
                    buyer_id=licence.buyer_id,
                    revoked_by=admin_id,
                    reason=revoke.reason,
                    revoked_at=now,
                ),
            )
            await session.flush()
            log.info("licence.revoked", licence_id=str(licence.id))
        return licence_read(licence, now=utcnow())


revocation_service = RevocationService()
