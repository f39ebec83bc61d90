"""A build's per-buyer copies: each JPEG, PNG or WebP file of a delivery is read from the
object store, gets its C2PA manifest, and is stored under the build's own key
(`storage.keys.delivered_file_key`); downloads and shards then serve that copy.

A file is held in memory while it is embedded (c2pa rewrites it whole); images are the
only files read, and `EMBEDS_AT_ONCE` bounds how many at a time. A file that only looks
like an image (c2pa cannot parse it) is delivered unchanged, and the log says so.
"""

import asyncio
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import c2pa
import structlog
from sqlalchemy import Row

from services.contracts.catalogue import MediaType
from services.delivery.provenance.embed import Embedder, Stamp, sniff
from storage.keys import delivered_file_key, validate_key, work_version_key
from storage.object_store import ObjectStore

log = structlog.get_logger()

EMBEDS_AT_ONCE = 2
"""Embedding is CPU in a thread; more than the cores would only queue."""


@dataclass(frozen=True)
class DeliveredCopy:
    key: str
    size: int
    sha256: str


@dataclass(frozen=True)
class CopyBatch:
    """Which delivery and licence the copies are for."""

    delivery_id: uuid.UUID
    lease_id: uuid.UUID
    licence_id: uuid.UUID
    uses: Sequence[str]


async def deliver_copies(
    store: ObjectStore,
    embedder: Embedder,
    batch: CopyBatch,
    lines: Sequence[tuple[Row[Any], str]],
) -> dict[uuid.UUID, DeliveredCopy]:
    """The copies written for `lines` (each with its fingerprint), by work; a line left
    out is delivered as uploaded."""
    limit = asyncio.Semaphore(EMBEDS_AT_ONCE)

    async def copy(line: Row[Any], fingerprint: str) -> tuple[uuid.UUID, DeliveredCopy] | None:
        async with limit:
            data = await store.get(work_version_key(line.work_id, line.version_id))
            media_type = sniff(data[:16])
            if media_type is None:
                return None
            stamp = Stamp(
                licence_id=batch.licence_id,
                delivery_id=batch.delivery_id,
                work_id=line.work_id,
                version_id=line.version_id,
                terms_id=line.terms_id,
                fingerprint=fingerprint,
                original_sha256=line.sha256,
                uses=batch.uses,
                file_name=line.file_name,
            )
            try:
                embedded = await asyncio.to_thread(embedder.embed_bytes, data, media_type, stamp)
            except c2pa.C2paError as exc:
                log.warning(
                    "delivery.provenance.not_embedded",
                    work_id=str(line.work_id),
                    media_type=media_type,
                    error=str(exc)[:300],
                )
                return None
            key = validate_key(delivered_file_key(batch.delivery_id, batch.lease_id, fingerprint))
            await store.put(key, embedded, content_type=media_type)
            digest = hashlib.sha256(embedded).hexdigest()
            return line.work_id, DeliveredCopy(key=key, size=len(embedded), sha256=digest)

    images = [(line, fp) for line, fp in lines if line.media_type == MediaType.IMAGE]
    done = await asyncio.gather(*(copy(line, fp) for line, fp in images))
    return dict(found for found in done if found is not None)
