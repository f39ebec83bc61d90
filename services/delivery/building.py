"""Building a delivery: every line licensing granted, in keyed order, written into a
signed, watermarked manifest, stored, then issued.

Licensing is the seller, and it orders each sale against the withdrawals and consent
changes of its works by their commits (`sale_scope.recorded`): a line it granted could
be sold when it was sold. A delivery therefore holds every granted line, on its terms
and the version sold, whatever the catalogue shows by the time it is built; the
catalogue is not asked. Left out (and refunded by licensing on `delivery.issued`) is
only what cannot be delivered at all: a line whose file, the version sold, is missing
from the object store or is not the size sold.

No transaction stays open across a call to another process. A builder leases its
deliveries in a short transaction (other builders skip them until the lease runs out),
reads their lines a chunk at a time in short transactions, checks the files and stores
each signed manifest with no transaction open, and issues in a last transaction that
first checks each lease is still its own.
"""

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.delivery import DeliveryExclusion, DeliveryIssued, DeliveryStatus
from services.contracts.events import Topic
from services.contracts.licensing import ExclusionReason
from services.delivery.manifest import DeliveryKeys, ManifestLine, ManifestWriter
from services.delivery.repository import DeliveryRepository, EntryRepository, LicenceRepository
from services.kit.db import utcnow
from services.kit.outbox import backoff, emit
from storage.keys import manifest_key, work_version_key
from storage.object_store import ObjectNotFound, ObjectStore

log = structlog.get_logger()

BUILD_CHUNK = 100
"""Lines read, and their files checked, at a time."""
FILE_CHECKS_AT_ONCE = 16
ENTRY_INSERT_ROWS = 1_000

Lines = Callable[[uuid.UUID, str], Awaitable[Sequence[Row[Any]]]]
"""The lines of a licence after an order key, read in a transaction of their own."""
Renew = Callable[["Leased"], Awaitable[bool]]
"""Extend a lease in a transaction of its own; False when it is no longer held."""


class LeaseLost(Exception):
    """Another builder took the delivery over: this build stores and issues nothing."""


@dataclass(frozen=True)
class BuildTools:
    """What a build needs besides the database."""

    store: ObjectStore
    keys: DeliveryKeys


@dataclass(frozen=True)
class Leased:
    """A delivery a builder holds until `lease_id` is replaced: by its own issue or
    postponement, or by another builder once the lease has run out."""

    lease_id: uuid.UUID
    delivery_id: uuid.UUID
    licence_id: uuid.UUID
    bundle_id: uuid.UUID
    buyer_id: uuid.UUID
    buyer_name: str


@dataclass(frozen=True)
class Built:
    """A manifest signed and stored, waiting to be issued."""

    leased: Leased
    entries: list[tuple[str, uuid.UUID]]
    """(fingerprint, work id) in manifest order."""
    excluded: list[DeliveryExclusion]
    issued_at: datetime
    key_id: str
    watermark_commitment: str
    manifest_key: str | None
    manifest_sha256: str | None


async def _undeliverable(
    store: ObjectStore, chunk: Sequence[Row[Any]]
) -> dict[uuid.UUID, DeliveryExclusion]:
    """The lines of `chunk` whose file cannot be delivered, with the reason. A store
    that does not answer fails the build (which is retried), never the line."""
    limit = asyncio.Semaphore(FILE_CHECKS_AT_ONCE)

    async def check(line: Row[Any]) -> DeliveryExclusion | None:
        async with limit:
            try:
                stored = await store.head(work_version_key(line.work_id, line.version_id))
            except ObjectNotFound:
                detail = "the file of the version sold is missing from the object store"
            else:
                if stored.size == line.size:
                    return None
                detail = f"the stored file has {stored.size} bytes, not the {line.size} sold"
        log.error("delivery.build.file_undeliverable", work_id=str(line.work_id), detail=detail)
        return DeliveryExclusion(
            work_id=line.work_id, reason=ExclusionReason.NOT_FOUND, detail=detail
        )

    checked = await asyncio.gather(*(check(line) for line in chunk))
    return {left_out.work_id: left_out for left_out in checked if left_out is not None}


async def assemble(
    leased: Leased,
    first_chunk: Sequence[Row[Any]],
    *,
    lines: Lines,
    renew: Renew,
    tools: BuildTools,
) -> Built:
    """Write, sign and store the manifest of every deliverable line, with no transaction
    open. The lines stream through a chunk at a time, in manifest order: memory holds
    one chunk and the entries' fingerprints, never the whole manifest."""
    watermark, signer = tools.keys.watermark, tools.keys.signer
    entries: list[tuple[str, uuid.UUID]] = []
    excluded: list[DeliveryExclusion] = []
    stored_key = stored_sha256 = None
    with ManifestWriter(
        delivery_id=leased.delivery_id,
        licence_id=leased.licence_id,
        bundle_id=leased.bundle_id,
        buyer_id=leased.buyer_id,
        buyer_name=leased.buyer_name,
        watermark=watermark,
    ) as writer:
        chunk = first_chunk
        while chunk:
            undeliverable = await _undeliverable(tools.store, chunk)
            for line in chunk:
                if (left_out := undeliverable.get(line.work_id)) is not None:
                    excluded.append(left_out)
                    continue
                fingerprint = writer.add(
                    ManifestLine(
                        work_id=line.work_id,
                        version_id=line.version_id,
                        file_name=line.file_name,
                        size=line.size,
                        sha256=line.sha256,
                        media_type=line.media_type,
                        attribution=line.attribution,
                        terms_id=line.terms_id,
                    )
                )
                entries.append((fingerprint, line.work_id))
            # A short chunk is the last: no query to find there is nothing after it.
            last = chunk[-1].order_key
            chunk = await lines(leased.licence_id, last) if len(chunk) == BUILD_CHUNK else []
        issued_at = utcnow()
        if writer.count:
            if writer.in_memory:
                signed = writer.sign(signer, issued_at=issued_at)
            else:
                signed = await asyncio.to_thread(writer.sign, signer, issued_at=issued_at)
            stored_key = manifest_key(leased.delivery_id)
            # A build that outlived its lease must not overwrite the manifest of the build
            # that took over (and may have issued it already).
            if not await renew(leased):
                raise LeaseLost(f"the lease on delivery {leased.delivery_id} was taken over")
            await tools.store.put(stored_key, signed.envelope, content_type="application/json")
            stored_sha256 = signed.sha256
        commitment = writer.watermark_commitment
    # Sorted by work, so the list says nothing of the keyed order.
    excluded.sort(key=lambda left_out: left_out.work_id)
    return Built(
        leased=leased,
        entries=entries,
        excluded=excluded,
        issued_at=issued_at,
        key_id=signer.key_id,
        watermark_commitment=commitment,
        manifest_key=stored_key,
        manifest_sha256=stored_sha256,
    )


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
                )
            )
        await session.flush()
        return leased

    async def renew(self, session: AsyncSession, leased: Leased, *, lease_for: timedelta) -> bool:
        delivery = await DeliveryRepository(session).lock(leased.delivery_id)
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
        return await LicenceRepository(session).first_lines(
            [held.licence_id for held in leased], limit=BUILD_CHUNK
        )

    async def lines_after(
        self, session: AsyncSession, licence_id: uuid.UUID, order_key: str
    ) -> Sequence[Row[Any]]:
        return await LicenceRepository(session).lines_in_order(
            licence_id, after=order_key, limit=BUILD_CHUNK
        )

    async def issue(self, session: AsyncSession, built: Built) -> DeliveryIssued | None:
        """Record the entries and issue the delivery, unless its lease was lost."""
        leased = built.leased
        delivery = await DeliveryRepository(session).lock(leased.delivery_id)
        if (
            delivery is None
            or delivery.status != DeliveryStatus.BUILDING
            or delivery.lease_id != leased.lease_id
        ):
            log.warning("delivery.build.lease_lost", delivery_id=str(leased.delivery_id))
            return None
        repository = EntryRepository(session)
        for start in range(0, len(built.entries), ENTRY_INSERT_ROWS):
            await repository.add_many(
                [
                    {
                        "fingerprint": fingerprint,
                        "delivery_id": delivery.id,
                        "position": position,
                        "licence_id": leased.licence_id,
                        "work_id": work_id,
                    }
                    for position, (fingerprint, work_id) in enumerate(
                        built.entries[start : start + ENTRY_INSERT_ROWS], start=start
                    )
                ]
            )
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
        delivery = await DeliveryRepository(session).lock(leased.delivery_id)
        if delivery is None or delivery.lease_id != leased.lease_id:
            return
        delivery.lease_id = None
        delivery.attempts += 1
        delivery.next_attempt_at = utcnow() + backoff(delivery.attempts, max_seconds=max_backoff)
        delivery.last_error = error[:2_000]
        await session.flush()


build_service = BuildService()
