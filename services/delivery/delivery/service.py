"""Reading deliveries: one or many, their signed manifests, and their files a page at a
time. A delivery the caller may not see is not found, never forbidden."""

import asyncio
import uuid
from collections.abc import Sequence

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.delivery import (
    DeliveryFilePage,
    DeliveryFiles,
    DeliveryRead,
    DeliveryStatus,
    ManifestEntry,
    ManifestRead,
)
from services.contracts.signing import Envelope
from services.delivery.access import may_see
from services.delivery.delivery.repository import DeliveryRepository, EntryRepository
from services.delivery.errors import DeliveryEmpty, DeliveryNotReady
from services.delivery.manifest import download_path
from services.delivery.models import Delivery, DeliveryEntry
from services.kit.errors import NotFound, ServiceUnavailable, storage_calls
from services.kit.internal_token import Caller
from storage.object_store import ObjectNotFound, ObjectStore

log = structlog.get_logger()

MANIFEST_READS_AT_ONCE = 8


def _read(delivery: Delivery) -> DeliveryRead:
    return DeliveryRead.model_validate(delivery)


def _entry(delivery_id: uuid.UUID, entry: DeliveryEntry) -> ManifestEntry:
    line = entry.line
    return ManifestEntry(
        work_id=line.work_id,
        version_id=line.version_id,
        file_name=line.file_name,
        size=entry.size,
        sha256=entry.sha256,
        original_sha256=line.sha256,
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
    async with storage_calls():
        try:
            stored = await store.get(key)
        except ObjectNotFound as exc:
            log.error("delivery.manifest.missing", delivery_id=str(delivery_id))
            raise ServiceUnavailable("the manifest is not in the object store") from exc
    return ManifestRead(delivery_id=delivery_id, envelope=Envelope.model_validate_json(stored))


def _require_built(delivery: Delivery) -> None:
    if delivery.status == DeliveryStatus.BUILDING:
        raise DeliveryNotReady("the delivery is still being built; try again shortly")


class DeliveryService:
    async def get(
        self, session: AsyncSession, caller: Caller, delivery_id: uuid.UUID
    ) -> DeliveryRead:
        return _read(await self.visible(session, caller, delivery_id))

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
        delivery = await self.visible(session, caller, delivery_id)
        _require_built(delivery)
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
        delivery = await self.visible(session, caller, delivery_id)
        _require_built(delivery)
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

    async def visible(
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


delivery_service = DeliveryService()
