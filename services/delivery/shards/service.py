"""Shard sets: requested by a delivery's buyer, read, linked one object at a time after
the entitlement check, and the short transactions of their build (see `build`)."""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NoReturn

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.delivery import DeliveryStatus, DownloadLink
from services.contracts.licensing import LicenceStatus
from services.contracts.shards import (
    SHARD_INDEX_NAME,
    ShardObject,
    ShardSetRead,
    ShardSetStatus,
)
from services.contracts.signing import Envelope
from services.delivery.access import may_see
from services.delivery.builder.repository import LineRepository
from services.delivery.delivery.repository import DeliveryRepository, EntryRepository
from services.delivery.errors import DeliveryEmpty, DeliveryNotReady, LicenceExpired, LicenceRevoked
from services.delivery.grant.repository import LicenceRepository
from services.delivery.grant.service import ended_message
from services.delivery.models import Delivery
from services.delivery.shards.models import Shard, ShardSet
from services.delivery.shards.repository import ShardSetRepository
from services.delivery.shards.writer import ShardRecord
from services.kit.db import utcnow
from services.kit.errors import AssentError, Forbidden, NotFound, storage_calls
from services.kit.internal_token import Caller
from services.kit.outbox import backoff
from storage.object_store import ObjectStore

log = structlog.get_logger()

RECORDS_PER_READ = 100


@dataclass(frozen=True)
class LeasedShards:
    """A shard set a builder holds until `lease_id` is replaced."""

    lease_id: uuid.UUID
    delivery_id: uuid.UUID
    licence_id: uuid.UUID
    buyer_id: uuid.UUID
    uses: list[str]
    manifest_sha256: str
    shard_bytes: int


@dataclass(frozen=True)
class StoredShard:
    position: int
    key: str
    size: int
    sha256: str
    records: int


@dataclass(frozen=True)
class BuiltShards:
    leased: LeasedShards
    shards: list[StoredShard]
    index_key: str
    index_size: int
    index_sha256: str
    record_count: int
    envelope: Envelope
    issued_at: datetime


def _read(shard_set: ShardSet) -> ShardSetRead:
    issued = shard_set.status == ShardSetStatus.ISSUED
    index = None
    if issued and shard_set.index_size is not None and shard_set.index_sha256 is not None:
        index = ShardObject(
            name=SHARD_INDEX_NAME,
            size=shard_set.index_size,
            sha256=shard_set.index_sha256,
            records=shard_set.record_count,
        )
    return ShardSetRead(
        delivery_id=shard_set.delivery_id,
        status=shard_set.status,
        requested_at=shard_set.requested_at,
        issued_at=shard_set.issued_at,
        shards=[
            ShardObject(
                name=_name(shard), size=shard.size, sha256=shard.sha256, records=shard.records
            )
            for shard in shard_set.shards
        ],
        index=index,
        envelope=Envelope.model_validate(shard_set.envelope) if shard_set.envelope else None,
    )


def _name(shard: Shard) -> str:
    return shard.key.rsplit("/", 1)[-1]


class ShardService:
    async def request(
        self, session: AsyncSession, caller: Caller, delivery_id: uuid.UUID, *, shard_bytes: int
    ) -> ShardSetRead:
        """The delivery's shard set, asked for once: asking again returns the same set."""
        delivery = await self._buyers(session, caller, delivery_id, action="request")
        licence = await LicenceRepository(session).get(delivery.licence_id)
        assert licence is not None
        if licence.status != LicenceStatus.ACTIVE:
            raise LicenceRevoked(ended_message(licence.status))
        if delivery.status == DeliveryStatus.BUILDING:
            raise DeliveryNotReady("the delivery is still being built; try again shortly")
        if delivery.status == DeliveryStatus.EMPTY:
            raise DeliveryEmpty("every work was left out of this delivery: nothing to shard")
        repository = ShardSetRepository(session)
        found = await repository.get_with_shards(delivery.id)
        if found is not None:
            return _read(found)
        now = utcnow()
        created = await repository.create(
            ShardSet(
                delivery_id=delivery.id,
                status=ShardSetStatus.BUILDING,
                requested_at=now,
                shard_bytes=shard_bytes,
                record_count=0,
                attempts=0,
                next_attempt_at=now,
                shards=[],
            )
        )
        log.info("delivery.shards.requested", delivery_id=str(delivery.id))
        return _read(created)

    async def get(
        self, session: AsyncSession, caller: Caller, delivery_id: uuid.UUID
    ) -> ShardSetRead:
        delivery = await DeliveryRepository(session).get(delivery_id)
        found = None
        if delivery is not None and may_see(delivery, caller):
            found = await ShardSetRepository(session).get_with_shards(delivery_id)
        if found is None:
            raise NotFound("this delivery has no shard set: request one first")
        return _read(found)

    async def link(
        self,
        session: AsyncSession,
        caller: Caller,
        delivery_id: uuid.UUID,
        name: str,
        *,
        store: ObjectStore,
        ttl: timedelta,
    ) -> DownloadLink:
        """Check the entitlement now (the caller the buyer, the licence neither refunded
        nor wholly ended), then presign one shard or the index."""

        def refuse(reason: str, error: AssentError) -> NoReturn:
            log.warning(
                "delivery.shards.link_refused",
                reason=reason,
                delivery_id=str(delivery_id),
                shard=name,
                caller=caller.subject,
            )
            raise error

        delivery = await self._buyers(session, caller, delivery_id, action="download")
        # Shared, as a file's download takes it: a link goes out before a refund commits,
        # or is refused once it has.
        licence = await LicenceRepository(session).get(
            delivery.licence_id, for_update=True, shared=True
        )
        assert licence is not None
        if licence.status != LicenceStatus.ACTIVE:
            refuse(f"licence_{licence.status}", LicenceRevoked(ended_message(licence.status)))
        now = utcnow()
        ends_at = await LineRepository(session).latest_end(licence.id)
        if ends_at is not None and ends_at <= now:
            refuse("licence_expired", LicenceExpired(f"the licence ended on {ends_at:%Y-%m-%d}"))
        shard_set = await ShardSetRepository(session).get_with_shards(delivery.id)
        if shard_set is None:
            refuse("no_shard_set", NotFound("this delivery has no shard set: request one first"))
        if shard_set.status != ShardSetStatus.ISSUED:
            refuse("building", DeliveryNotReady("the shards are still being built"))
        objects = {
            _name(shard): (shard.key, shard.size, shard.sha256) for shard in shard_set.shards
        }
        if shard_set.index_key and shard_set.index_size is not None and shard_set.index_sha256:
            objects[SHARD_INDEX_NAME] = (
                shard_set.index_key,
                shard_set.index_size,
                shard_set.index_sha256,
            )
        if name not in objects:
            refuse("no_such_shard", NotFound("no such shard in this delivery"))
        key, size, sha256 = objects[name]
        async with storage_calls():
            url = await store.presign_get(key, expires_in=ttl, filename=name)
        log.info("delivery.shards.link_issued", delivery_id=str(delivery.id), shard=name)
        return DownloadLink(url=url, expires_at=now + ttl, size=size, sha256=sha256)

    # -- the build's transactions ---------------------------------------------------------

    async def lease(
        self, session: AsyncSession, *, limit: int, lease_for: timedelta
    ) -> list[LeasedShards]:
        now = utcnow()
        leased = []
        for shard_set in await ShardSetRepository(session).due(now=now, limit=limit):
            delivery = await DeliveryRepository(session).get(shard_set.delivery_id)
            assert delivery is not None
            assert delivery.manifest_sha256 is not None
            licence = await LicenceRepository(session).get(delivery.licence_id)
            assert licence is not None
            shard_set.lease_id = uuid.uuid4()
            shard_set.next_attempt_at = now + lease_for
            leased.append(
                LeasedShards(
                    lease_id=shard_set.lease_id,
                    delivery_id=delivery.id,
                    licence_id=licence.id,
                    buyer_id=delivery.buyer_id,
                    uses=sorted(licence.uses),
                    manifest_sha256=delivery.manifest_sha256,
                    shard_bytes=shard_set.shard_bytes,
                )
            )
        await session.flush()
        return leased

    async def records(
        self, session: AsyncSession, leased: LeasedShards, *, after: str | None
    ) -> tuple[list[ShardRecord], str | None]:
        """The next records in manifest order, and the cursor after them (None at the end)."""
        page = await EntryRepository(session).page(
            leased.delivery_id, after=after, limit=RECORDS_PER_READ
        )
        records = [
            ShardRecord(
                key=entry.fingerprint,
                work_id=entry.line.work_id,
                version_id=entry.line.version_id,
                file_name=entry.line.file_name,
                media_type=entry.line.media_type,
                size=entry.size,
                sha256=entry.sha256,
                licence_id=leased.licence_id,
                uses=leased.uses,
                terms_id=entry.line.terms_id,
                attribution=entry.line.attribution,
                delivered_key=entry.delivered_key,
            )
            for entry in page.items
        ]
        return records, page.next_cursor

    async def renew(
        self, session: AsyncSession, leased: LeasedShards, *, lease_for: timedelta
    ) -> bool:
        shard_set = await ShardSetRepository(session).get_with_shards(
            leased.delivery_id, for_update=True
        )
        if shard_set is None or shard_set.lease_id != leased.lease_id:
            return False
        shard_set.next_attempt_at = utcnow() + lease_for
        await session.flush()
        return True

    async def issue(self, session: AsyncSession, built: BuiltShards) -> bool:
        """Record the shards and issue the set, unless its lease was lost."""
        leased = built.leased
        repository = ShardSetRepository(session)
        shard_set = await repository.get_with_shards(leased.delivery_id, for_update=True)
        if shard_set is None or shard_set.lease_id != leased.lease_id:
            log.warning("delivery.shards.lease_lost", delivery_id=str(leased.delivery_id))
            return False
        await repository.add_shards(
            [
                Shard(
                    delivery_id=leased.delivery_id,
                    position=stored.position,
                    key=stored.key,
                    size=stored.size,
                    sha256=stored.sha256,
                    records=stored.records,
                )
                for stored in built.shards
            ]
        )
        shard_set.status = ShardSetStatus.ISSUED
        shard_set.issued_at = built.issued_at
        shard_set.index_key = built.index_key
        shard_set.index_size = built.index_size
        shard_set.index_sha256 = built.index_sha256
        shard_set.record_count = built.record_count
        shard_set.envelope = built.envelope.model_dump(mode="json")
        shard_set.lease_id = None
        shard_set.last_error = None
        await session.flush()
        log.info(
            "delivery.shards.issued",
            delivery_id=str(leased.delivery_id),
            shards=len(built.shards),
            records=built.record_count,
        )
        return True

    async def postpone(
        self, session: AsyncSession, leased: LeasedShards, *, error: str, max_backoff: float
    ) -> None:
        shard_set = await ShardSetRepository(session).get_with_shards(
            leased.delivery_id, for_update=True
        )
        if shard_set is None or shard_set.lease_id != leased.lease_id:
            return
        shard_set.lease_id = None
        shard_set.attempts += 1
        shard_set.next_attempt_at = utcnow() + backoff(shard_set.attempts, max_seconds=max_backoff)
        shard_set.last_error = error[:2_000]
        await session.flush()

    async def _buyers(
        self, session: AsyncSession, caller: Caller, delivery_id: uuid.UUID, *, action: str
    ) -> Delivery:
        """The delivery if the caller bought it: another's is forbidden to those who may
        see it (admins, auditors), and not found to everyone else."""
        delivery = await DeliveryRepository(session).get(delivery_id)
        if delivery is not None and delivery.buyer_id != caller.account_id:
            if may_see(delivery, caller):
                raise Forbidden(f"only the licence's buyer may {action} its shards")
            delivery = None
        if delivery is None:
            raise NotFound("no such delivery")
        return delivery


shard_service = ShardService()
