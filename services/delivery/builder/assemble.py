"""Assembling a delivery: every line licensing granted, in keyed order, written into a
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
each signed manifest with no transaction open, and issues it in a last transaction that
first checks the lease is still its own. The manifest is stored under a key named by
the lease, and the issue points the delivery at it: a build that outlived its lease can
only write an object no delivery points at, never replace the manifest of the build
that took over.

With provenance on, each JPEG, PNG and WebP file is first copied for the buyer with a
C2PA manifest naming the licence (`services.delivery.provenance.copies`), stored under a
key named by the lease as the manifest is; the manifest then lists the copy's size and
sha256, with the upload's sha256 beside it.
"""

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import Row

from services.contracts.delivery import DeliveryExclusion
from services.contracts.licensing import ExclusionReason
from services.delivery.delivery.repository import IssuedEntry
from services.delivery.manifest import DeliveryKeys, ManifestLine, ManifestWriter
from services.delivery.provenance import Provenance
from services.delivery.provenance.copies import CopyBatch, DeliveredCopy, deliver_copies
from services.kit.db import utcnow
from storage.keys import manifest_key, validate_key, work_version_key
from storage.object_store import ObjectNotFound, ObjectStore

log = structlog.get_logger()

BUILD_CHUNK = 100
"""Lines read, and their files checked, at a time."""
FILE_CHECKS_AT_ONCE = 16

Lines = Callable[[uuid.UUID, str], Awaitable[Sequence[Row[Any]]]]
"""The lines of a licence after an order key, read in a transaction of their own."""
KeepLease = Callable[["Leased"], Awaitable[bool]]
"""Keep a lease held while a build runs (extended in a transaction of its own once much
of it has passed); False when it is no longer held."""


class LeaseLost(Exception):
    """Another builder took the delivery over: this build stores and issues nothing."""


@dataclass(frozen=True)
class BuildTools:
    """What a build needs besides the database."""

    store: ObjectStore
    keys: DeliveryKeys
    provenance: Provenance | None = None
    """None: files are delivered as uploaded, with no C2PA manifest embedded."""


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
    uses: tuple[str, ...] = ()
    trace_parent: str | None = None
    """The trace of the request that queued the build (see `Delivery.trace_parent`)."""


@dataclass(frozen=True)
class Built:
    """A manifest signed and stored, waiting to be issued."""

    leased: Leased
    entries: list[IssuedEntry]
    """In manifest order."""
    excluded: list[DeliveryExclusion]
    issued_at: datetime
    key_id: str
    watermark_commitment: str
    manifest_key: str | None
    manifest_sha256: str | None
    copy_keys: tuple[str, ...] = ()
    """The buyer's own copies this build stored (see `provenance.copies`)."""


def lease_manifest_key(leased: Leased) -> str:
    """Where the build under `leased` stores its manifest: its own object, named by the
    lease, so no two builds share one."""
    return validate_key(manifest_key(leased.delivery_id, leased.lease_id))


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


async def _keep(leased: Leased, keep_lease: KeepLease) -> None:
    if not await keep_lease(leased):
        raise LeaseLost(f"the lease on delivery {leased.delivery_id} was taken over")


async def assemble(
    leased: Leased,
    first_chunk: Sequence[Row[Any]],
    *,
    lines: Lines,
    keep_lease: KeepLease,
    tools: BuildTools,
) -> Built:
    """Write, sign and store the manifest of every deliverable line, with no transaction
    open. The lines stream through a chunk at a time, in manifest order: memory holds
    one chunk and the entries' fingerprints, never the whole manifest."""
    watermark = tools.keys.watermark
    entries: list[IssuedEntry] = []
    excluded: list[DeliveryExclusion] = []
    stored_key = stored_sha256 = None
    copies: dict[uuid.UUID, DeliveredCopy] = {}
    embedder = None
    if tools.provenance is not None:
        embedder = tools.provenance.embedder(await tools.keys.signer_at(utcnow()))
    batch = CopyBatch(leased.delivery_id, leased.lease_id, leased.licence_id, leased.uses)
    licence_text = str(leased.licence_id)
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
            if embedder is not None:
                deliverable = [
                    (
                        line,
                        watermark.fingerprint(
                            licence_text, str(line.work_id), str(line.version_id)
                        ),
                    )
                    for line in chunk
                    if line.work_id not in undeliverable
                ]
                copies.update(await deliver_copies(tools.store, embedder, batch, deliverable))
            for line in chunk:
                if (left_out := undeliverable.get(line.work_id)) is not None:
                    excluded.append(left_out)
                    continue
                copied = copies.get(line.work_id)
                fingerprint = writer.add(
                    ManifestLine(
                        work_id=line.work_id,
                        version_id=line.version_id,
                        file_name=line.file_name,
                        size=line.size if copied is None else copied.size,
                        sha256=line.sha256 if copied is None else copied.sha256,
                        media_type=line.media_type,
                        attribution=line.attribution,
                        terms_id=line.terms_id,
                        original_sha256=line.sha256,
                    )
                )
                entries.append(IssuedEntry(fingerprint, line.work_id, copied))
            # A short chunk is the last: no query to find there is nothing after it.
            if len(chunk) < BUILD_CHUNK:
                break
            await _keep(leased, keep_lease)
            chunk = await lines(leased.licence_id, chunk[-1].order_key)
        issued_at = utcnow()
        signer = await tools.keys.signer_at(issued_at)
        if writer.count:
            if writer.in_memory:
                signed = writer.sign(signer, issued_at=issued_at)
            else:
                signed = await asyncio.to_thread(writer.sign, signer, issued_at=issued_at)
            # Not needed for safety (the key is this lease's own), but an upload for a
            # delivery another builder has taken over would be wasted.
            await _keep(leased, keep_lease)
            stored_key = lease_manifest_key(leased)
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
        copy_keys=tuple(copied.key for copied in copies.values()),
    )
