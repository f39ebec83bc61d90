"""Delivery's rules: entitlements from licensing, reading deliveries, handing out
download links, and tracing a leaked manifest (building one is `building`'s).

A delivery is built once per licence, after the grant has committed, from every line
licensing granted: the version sold, on the terms sold, even when the work has since
been withdrawn, its consent changed, or a newer version uploaded.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, NoReturn

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.delivery import (
    DeliveryFilePage,
    DeliveryFiles,
    DeliveryRead,
    DeliveryStatus,
    DownloadLink,
    FileDownloaded,
    ManifestEntry,
    ManifestRead,
)
from services.contracts.events import Topic
from services.contracts.licensing import (
    LicenceGranted,
    LicenceLineStatus,
    LicenceRefunded,
    LicenceStatus,
)
from services.contracts.roles import Role
from services.contracts.signing import Envelope, PublicKeyRead
from services.delivery.errors import (
    DeliveryEmpty,
    DeliveryNotReady,
    LicenceExpired,
    LicenceRevoked,
)
from services.delivery.manifest import DeliveryKeys, Watermark, download_path
from services.delivery.models import Delivery, DeliveryEntry, Download
from services.delivery.repository import (
    DeliveryRepository,
    DownloadRepository,
    EntryRepository,
    LicenceRepository,
)
from services.kit.db import utcnow
from services.kit.errors import AssentError, Forbidden, NotFound, ServiceUnavailable
from services.kit.internal_token import Caller
from services.kit.outbox import emit
from storage.keys import work_version_key
from storage.object_store import ObjectNotFound, ObjectStore, StorageUnavailable

log = structlog.get_logger()

MANIFEST_READS_AT_ONCE = 8


def account_id(caller: Caller) -> uuid.UUID | None:
    try:
        return uuid.UUID(caller.subject)
    except ValueError:
        return None


def sees_every_delivery(caller: Caller) -> bool:
    return caller.has(Role.ADMIN, Role.AUDITOR, Role.SERVICE)


def may_see(delivery: Delivery, caller: Caller) -> bool:
    return sees_every_delivery(caller) or delivery.buyer_id == account_id(caller)


def _read(delivery: Delivery) -> DeliveryRead:
    return DeliveryRead.model_validate(delivery)


def _entry(delivery_id: uuid.UUID, entry: DeliveryEntry) -> ManifestEntry:
    line = entry.line
    return ManifestEntry(
        work_id=line.work_id,
        version_id=line.version_id,
        file_name=line.file_name,
        size=line.size,
        sha256=line.sha256,
        media_type=line.media_type,
        attribution=line.attribution,
        terms_id=line.terms_id,
        fingerprint=entry.fingerprint,
        path=download_path(delivery_id, entry.fingerprint),
    )


async def _end_reads(session: AsyncSession) -> None:
    """End a read-only transaction before the object store is called: no transaction
    stays open, holding its connection, while another process answers."""
    await session.commit()


async def _stored_manifest(store: ObjectStore, delivery_id: uuid.UUID, key: str) -> ManifestRead:
    async with _storage_calls():
        try:
            stored = await store.get(key)
        except ObjectNotFound as exc:
            log.error("delivery.manifest.missing", delivery_id=str(delivery_id))
            raise ServiceUnavailable("the manifest is not in the object store") from exc
    return ManifestRead(delivery_id=delivery_id, envelope=Envelope.model_validate_json(stored))


@asynccontextmanager
async def _storage_calls() -> AsyncIterator[None]:
    try:
        yield
    except StorageUnavailable as exc:
        raise ServiceUnavailable("the object store is unavailable; try again") from exc


def _refuse(
    reason: str,
    error: AssentError,
    *,
    caller: Caller,
    delivery_id: uuid.UUID,
    fingerprint: str,
) -> NoReturn:
    log.warning(
        "delivery.download.refused",
        reason=reason,
        delivery_id=str(delivery_id),
        fingerprint=fingerprint,
        caller=caller.subject,
        error=error.name,
    )
    raise error


class DeliveryService:
    # --- entitlements (events from licensing) ---

    async def record_grants(
        self, session: AsyncSession, grants: Sequence[LicenceGranted], *, watermark: Watermark
    ) -> None:
        """Store each grant's entitlement and a delivery to build (the builder does the
        rest), in a statement per table rather than per grant: a relay's batch carries
        the grants of many sales."""
        known = await LicenceRepository(session).existing_ids([g.licence_id for g in grants])
        now = utcnow()
        licences: list[dict[str, Any]] = []
        lines: list[dict[str, Any]] = []
        deliveries: list[dict[str, Any]] = []
        for granted in grants:
            if granted.licence_id in known:
                # The same licence in another event: one delivery per licence.
                log.info("delivery.grant.duplicate", licence_id=str(granted.licence_id))
                continue
            known.add(granted.licence_id)
            licence_text = str(granted.licence_id)
            licences.append(
                {
                    "id": granted.licence_id,
                    "buyer_id": granted.buyer_id,
                    "buyer_name": granted.buyer_name,
                    "bundle_id": granted.bundle_id,
                    "uses": sorted(set(granted.uses)),
                    "status": LicenceStatus.ACTIVE,
                    "granted_at": granted.granted_at,
                    "received_at": now,
                }
            )
            lines.extend(
                {
                    "licence_id": granted.licence_id,
                    "work_id": line.work_id,
                    "version_id": line.version_id,
                    "file_name": line.file_name,
                    "size": line.size,
                    "sha256": line.sha256,
                    "media_type": line.media_type,
                    "attribution": line.attribution,
                    "terms_id": line.terms_id,
                    "ends_at": line.ends_at,
                    "order_key": watermark.order_key(licence_text, str(line.work_id)),
                }
                for line in granted.lines
                if line.status == LicenceLineStatus.ACTIVE
            )
            deliveries.append(
                {
                    "id": uuid.uuid4(),
                    "licence_id": granted.licence_id,
                    "buyer_id": granted.buyer_id,
                    "status": DeliveryStatus.BUILDING,
                    "created_at": now,
                    "entry_count": 0,
                    "excluded": [],
                    "attempts": 0,
                    "next_attempt_at": now,
                }
            )
        if not licences:
            return
        repository = LicenceRepository(session)
        await repository.add(licences)
        if lines:
            await repository.add_lines(lines)
        await DeliveryRepository(session).add(deliveries)

    async def record_refund(self, session: AsyncSession, refunded: LicenceRefunded) -> None:
        """From now on every link of the licence is refused."""
        licence = await LicenceRepository(session).lock(refunded.licence_id)
        if licence is None:
            # Licensing relays a licence's grant before its refund, so this is a bug
            # upstream; acknowledging keeps the events behind it flowing.
            log.error("delivery.refund.unknown_licence", licence_id=str(refunded.licence_id))
            return
        if licence.status == LicenceStatus.REFUNDED:
            return
        licence.status = LicenceStatus.REFUNDED
        licence.refunded_at = refunded.refunded_at
        await session.flush()
        log.info("delivery.licence.revoked", licence_id=str(licence.id))

    # --- reads ---

    async def get(
        self, session: AsyncSession, caller: Caller, delivery_id: uuid.UUID
    ) -> DeliveryRead:
        return _read(await self._visible(session, caller, delivery_id))

    async def get_many(
        self, session: AsyncSession, caller: Caller, licence_ids: Sequence[uuid.UUID]
    ) -> list[DeliveryRead]:
        """In the order of `licence_ids`; deliveries the caller may not see are left out."""
        unique = list(dict.fromkeys(licence_ids))
        found = {
            delivery.licence_id: delivery
            for delivery in await DeliveryRepository(session).by_licence_ids(unique)
            if may_see(delivery, caller)
        }
        return [_read(found[licence_id]) for licence_id in unique if licence_id in found]

    async def manifest(
        self, session: AsyncSession, caller: Caller, delivery_id: uuid.UUID, *, store: ObjectStore
    ) -> ManifestRead:
        delivery = await self._visible(session, caller, delivery_id)
        self._require_built(delivery)
        if delivery.manifest_key is None:
            raise DeliveryEmpty("every work was left out of this delivery: it has no manifest")
        await _end_reads(session)
        return await _stored_manifest(store, delivery.id, delivery.manifest_key)

    async def manifests(
        self,
        session: AsyncSession,
        caller: Caller,
        delivery_ids: Sequence[uuid.UUID],
        *,
        store: ObjectStore,
    ) -> list[ManifestRead]:
        """In the order of `delivery_ids`: those the caller may see that have a manifest
        (issued, not every work left out)."""
        found = {
            delivery.id: delivery.manifest_key
            for delivery in await DeliveryRepository(session).get_many(delivery_ids)
            if may_see(delivery, caller) and delivery.manifest_key is not None
        }
        await _end_reads(session)
        at_once = asyncio.Semaphore(MANIFEST_READS_AT_ONCE)

        async def read(delivery_id: uuid.UUID, key: str) -> ManifestRead:
            async with at_once:
                return await _stored_manifest(store, delivery_id, key)

        unique = [
            delivery_id for delivery_id in dict.fromkeys(delivery_ids) if delivery_id in found
        ]
        return list(await asyncio.gather(*(read(d, found[d]) for d in unique)))

    async def files(
        self,
        session: AsyncSession,
        caller: Caller,
        delivery_id: uuid.UUID,
        *,
        first: int,
        after: str | None,
    ) -> DeliveryFilePage:
        delivery = await self._visible(session, caller, delivery_id)
        self._require_built(delivery)
        page = await EntryRepository(session).page(delivery.id, after=after, limit=first)
        return DeliveryFilePage(
            items=[_entry(delivery.id, entry) for entry in page.items],
            next_cursor=page.next_cursor,
        )

    async def first_files(
        self,
        session: AsyncSession,
        caller: Caller,
        delivery_ids: Sequence[uuid.UUID],
        *,
        first: int,
    ) -> list[DeliveryFiles]:
        """The first page of each delivery's files, in the order of `delivery_ids`;
        deliveries the caller may not see are left out, one still building has none."""
        entries = EntryRepository(session)
        pages = []
        for delivery in await DeliveryRepository(session).get_many(delivery_ids):
            if not may_see(delivery, caller):
                continue
            if delivery.status == DeliveryStatus.BUILDING:
                pages.append(DeliveryFiles(delivery_id=delivery.id, items=[], next_cursor=None))
                continue
            page = await entries.page(delivery.id, after=None, limit=first)
            pages.append(
                DeliveryFiles(
                    delivery_id=delivery.id,
                    items=[_entry(delivery.id, entry) for entry in page.items],
                    next_cursor=page.next_cursor,
                )
            )
        order = {delivery_id: index for index, delivery_id in enumerate(delivery_ids)}
        return sorted(pages, key=lambda page: order[page.delivery_id])

    def keys(self, keys: DeliveryKeys) -> list[PublicKeyRead]:
        return [keys.signer.published()]

    # --- downloads ---

    async def link(
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
            _refuse(reason, error, caller=caller, delivery_id=delivery_id, fingerprint=fingerprint)

        delivery = await DeliveryRepository(session).get(delivery_id)
        if delivery is None:
            refuse("no_such_delivery", NotFound("no such delivery"))
        buyer_id = account_id(caller)
        if delivery.buyer_id != buyer_id:
            if may_see(delivery, caller):
                refuse("not_the_buyer", Forbidden("only the licence's buyer downloads its files"))
            refuse("not_the_buyer", NotFound("no such delivery"))
        licence = await LicenceRepository(session).lock(delivery.licence_id, shared=True)
        assert licence is not None
        if licence.status == LicenceStatus.REFUNDED:
            refuse("licence_refunded", LicenceRevoked("the licence was refunded and revoked"))
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
        await DownloadRepository(session).create(
            Download(
                id=uuid.uuid4(),
                delivery_id=delivery.id,
                fingerprint=fingerprint,
                buyer_id=delivery.buyer_id,
                downloaded_at=now,
            )
        )
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
        async with _storage_calls():
            url = await store.presign_get(
                work_version_key(line.work_id, line.version_id),
                expires_in=ttl,
                filename=line.file_name,
            )
        log.info(
            "delivery.download.link_issued",
            delivery_id=str(delivery.id),
            fingerprint=fingerprint,
            work_id=str(line.work_id),
        )
        return DownloadLink(url=url, expires_at=now + ttl, size=line.size, sha256=line.sha256)

    # --- helpers ---

    async def _visible(
        self, session: AsyncSession, caller: Caller, delivery_id: uuid.UUID
    ) -> Delivery:
        """The delivery if the caller may see it; otherwise 404, never revealing it exists."""
        delivery = await DeliveryRepository(session).get(delivery_id)
        if delivery is not None and not may_see(delivery, caller):
            log.warning(
                "delivery.read.refused",
                reason="not_the_buyer",
                delivery_id=str(delivery_id),
                caller=caller.subject,
            )
            delivery = None
        if delivery is None:
            raise NotFound("no such delivery")
        return delivery

    def _require_built(self, delivery: Delivery) -> None:
        if delivery.status == DeliveryStatus.BUILDING:
            raise DeliveryNotReady("the delivery is still being built; try again shortly")


delivery_service = DeliveryService()
