"""Building shard sets in the background, as deliveries are built (builder/assemble.py):
a set waits as `building` from its request; a builder leases it in a short
transaction, streams each licensed file from the object store into the shards with no
transaction open (its sha256 checked on the way), stores each shard under a key named
by the lease, then the index and the signed shard manifest, and issues the set in a last
transaction that first checks the lease is still its own. A failed build is retried with
backoff.
"""

import asyncio
import uuid
from collections.abc import Callable
from datetime import timedelta

import orjson
import structlog

from assent.protocol import b64encode, pae
from services.contracts.delivery import IN_TOTO_PAYLOAD_TYPE, IN_TOTO_STATEMENT_TYPE
from services.contracts.shards import SHARD_INDEX_NAME, SHARDS_PREDICATE_TYPE, ShardsHeader
from services.contracts.signing import Envelope, EnvelopeSignature
from services.delivery.builder import BuildRuntime
from services.delivery.manifest import ManifestSigner
from services.delivery.shards.service import BuiltShards, LeasedShards, StoredShard, shard_service
from services.delivery.shards.writer import ClosedShard, ShardWriter
from services.kit.db import utcnow
from services.kit.worker import PollingWorker
from storage.keys import shard_key, validate_key, work_version_key

log = structlog.get_logger()


class ShardLeaseLost(Exception):
    """Another builder took the set over: this build issues nothing."""


def _sign(signer: ManifestSigner, statement: dict[str, object]) -> Envelope:
    payload = orjson.dumps(statement)
    signature = signer.sign_message(memoryview(pae(IN_TOTO_PAYLOAD_TYPE, payload)))
    return Envelope(
        payload_type=IN_TOTO_PAYLOAD_TYPE,
        payload=b64encode(payload),
        signatures=[EnvelopeSignature(keyid=signer.key_id, sig=signature)],
    )


class ShardBuilder:
    """Builds every shard set that is due, one at a time: each is gigabytes of I/O."""

    def __init__(
        self,
        runtime: Callable[[], BuildRuntime],
        *,
        poll_seconds: float,
        lease_seconds: float,
        max_backoff_seconds: float,
    ) -> None:
        self._runtime = runtime
        self._lease_for = timedelta(seconds=lease_seconds)
        self._max_backoff_seconds = max_backoff_seconds
        self._worker = PollingWorker(
            self._build_once,
            name="delivery.shard_builder",
            poll_seconds=poll_seconds,
            batch_size=1,
            max_backoff_seconds=min(30.0, max_backoff_seconds),
        )

    def wake(self) -> None:
        self._worker.wake()

    async def run(self) -> None:
        await self._worker.run()

    async def _build_once(self) -> int:
        return 1 if await self.build_next() else 0

    async def build_pending(self) -> list[uuid.UUID]:
        """Build shard sets until none is due; the deliveries leased."""
        leased = []
        while (built := await self.build_next()) is not None:
            leased.append(built)
        return leased

    async def build_next(self) -> uuid.UUID | None:
        runtime = self._runtime()
        async with runtime.sessionmaker() as session, session.begin():
            leased = await shard_service.lease(session, limit=1, lease_for=self._lease_for)
        if not leased:
            return None
        (held,) = leased
        try:
            built = await self._build(runtime, held)
            async with runtime.sessionmaker() as session, session.begin():
                await shard_service.issue(session, built)
        except ShardLeaseLost:
            log.warning("delivery.shards.lease_lost", delivery_id=str(held.delivery_id))
        except Exception as exc:
            log.exception("delivery.shards.build_failed", delivery_id=str(held.delivery_id))
            async with runtime.sessionmaker() as session, session.begin():
                await shard_service.postpone(
                    session,
                    held,
                    error=f"{type(exc).__name__}: {exc}",
                    max_backoff=self._max_backoff_seconds,
                )
        return held.delivery_id

    async def _build(self, runtime: BuildRuntime, held: LeasedShards) -> BuiltShards:
        store = runtime.tools.store
        issued_at = utcnow()
        # The key valid at `issued_at`, which still verifies if a rotation comes mid-build.
        signer = await runtime.tools.keys.signer_at(issued_at)
        writer = ShardWriter(shard_bytes=held.shard_bytes, mtime=issued_at)
        stored: list[StoredShard] = []

        async def keep_and_store(closed: ClosedShard | None) -> None:
            if closed is None:
                return
            async with runtime.sessionmaker() as session, session.begin():
                if not await shard_service.renew(session, held, lease_for=self._lease_for):
                    raise ShardLeaseLost(str(held.delivery_id))
            key = validate_key(shard_key(held.delivery_id, held.lease_id, closed.name))
            with closed.file:
                await store.put(key, closed.file, content_type="application/x-tar")
            stored.append(
                StoredShard(closed.position, key, closed.size, closed.sha256, closed.records)
            )

        after: str | None = None
        while True:
            async with runtime.sessionmaker() as session, session.begin():
                records, after = await shard_service.records(session, held, after=after)
            for record in records:
                if not writer.record_fits(record):
                    await keep_and_store(writer.close_shard())
                writer.begin(record)
                async for chunk in store.stream(
                    record.delivered_key or work_version_key(record.work_id, record.version_id)
                ):
                    writer.write(chunk)
                writer.end()
            if after is None:
                break
        await keep_and_store(writer.close_shard())
        index = await asyncio.to_thread(writer.index)
        index_key = validate_key(shard_key(held.delivery_id, held.lease_id, SHARD_INDEX_NAME))
        index_info = await store.put(
            index_key, index, content_type="application/vnd.apache.parquet"
        )
        assert index_info.sha256 is not None
        header = ShardsHeader(
            delivery_id=held.delivery_id,
            licence_id=held.licence_id,
            buyer_id=held.buyer_id,
            manifest_sha256=held.manifest_sha256,
            issued_at=issued_at,
            key_id=signer.key_id,
            record_count=writer.record_count,
        )
        objects = [
            {"name": shard.key.rsplit("/", 1)[-1], "size": shard.size, "sha256": shard.sha256}
            for shard in stored
        ]
        objects.append({"name": SHARD_INDEX_NAME, "size": len(index), "sha256": index_info.sha256})
        statement: dict[str, object] = {
            "_type": IN_TOTO_STATEMENT_TYPE,
            "subject": [{"name": o["name"], "digest": {"sha256": o["sha256"]}} for o in objects],
            "predicateType": SHARDS_PREDICATE_TYPE,
            "predicate": {"header": header.model_dump(mode="json"), "objects": objects},
        }
        return BuiltShards(
            leased=held,
            shards=stored,
            index_key=index_key,
            index_size=len(index),
            index_sha256=index_info.sha256,
            record_count=writer.record_count,
            envelope=_sign(signer, statement),
            issued_at=issued_at,
        )
