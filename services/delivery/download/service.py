"""Authorising a download: the entitlement is checked on every request (the licence
neither refunded nor ended, the caller its buyer), the download recorded and relayed to
the audit log, and a short-lived URL to the licensed bytes handed out."""

import uuid
from datetime import timedelta
from typing import NoReturn

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.delivery import DeliveryStatus, DownloadLink, FileDownloaded
from services.contracts.events import Topic
from services.contracts.licensing import LicenceStatus
from services.delivery.access import may_see
from services.delivery.delivery.repository import DeliveryRepository, EntryRepository
from services.delivery.download.repository import DownloadRepository
from services.delivery.errors import DeliveryNotReady, LicenceExpired, LicenceRevoked
from services.delivery.grant.repository import LicenceRepository
from services.delivery.grant.service import ended_message
from services.kit.db import utcnow
from services.kit.errors import AssentError, Forbidden, NotFound, storage_calls
from services.kit.internal_token import Caller
from services.kit.outbox import emit
from storage.keys import work_version_key
from storage.object_store import ObjectStore

log = structlog.get_logger()


class DownloadService:
    async def entitled_link(
        self,
        session: AsyncSession,
        caller: Caller,
        delivery_id: uuid.UUID,
        fingerprint: str,
        *,
        store: ObjectStore,
        ttl: timedelta,
    ) -> DownloadLink:
        """Check the entitlement now, record the download, and presign the licensed bytes.

        Refusals are logged; another buyer's delivery is not found, never forbidden.
        """

        def refuse(reason: str, error: AssentError) -> NoReturn:
            log.warning(
                "delivery.download.refused",
                reason=reason,
                delivery_id=str(delivery_id),
                fingerprint=fingerprint,
                caller=caller.subject,
                error=error.name,
            )
            raise error

        delivery = await DeliveryRepository(session).get(delivery_id)
        if delivery is None:
            refuse("no_such_delivery", NotFound("no such delivery"))
        if delivery.buyer_id != caller.account_id:
            if may_see(delivery, caller):
                refuse("not_the_buyer", Forbidden("only the licence's buyer downloads its files"))
            refuse("not_the_buyer", NotFound("no such delivery"))
        licence = await LicenceRepository(session).get(
            delivery.licence_id, for_update=True, shared=True
        )
        assert licence is not None
        if licence.status != LicenceStatus.ACTIVE:
            refuse(f"licence_{licence.status}", LicenceRevoked(ended_message(licence.status)))
        if delivery.status == DeliveryStatus.BUILDING:
            refuse("building", DeliveryNotReady("the delivery is still being built"))
        entry = await EntryRepository(session).in_delivery(delivery.id, fingerprint)
        if entry is None:
            refuse("no_such_file", NotFound("no such file in this delivery"))
        line = entry.line
        now = utcnow()
        if line.ends_at <= now:
            refuse(
                "licence_expired",
                LicenceExpired(f"the licence of this file ended on {line.ends_at:%Y-%m-%d}"),
            )
        await DownloadRepository(session).record(delivery, fingerprint, at=now)
        emit(
            session,
            Topic.FILE_DOWNLOADED,
            FileDownloaded(
                delivery_id=delivery.id,
                licence_id=licence.id,
                buyer_id=delivery.buyer_id,
                work_id=line.work_id,
                version_id=line.version_id,
                downloaded_at=now,
            ),
        )
        async with storage_calls():
            url = await store.presign_get(
                # The buyer's own copy where provenance was embedded in it.
                entry.delivered_key or work_version_key(line.work_id, line.version_id),
                expires_in=ttl,
                filename=line.file_name,
            )
        log.info(
            "delivery.download.link_issued",
            delivery_id=str(delivery.id),
            fingerprint=fingerprint,
            work_id=str(line.work_id),
        )
        return DownloadLink(url=url, expires_at=now + ttl, size=entry.size, sha256=entry.sha256)


download_service = DownloadService()
