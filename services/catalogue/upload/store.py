"""A version's bytes in the object store: where they go, how they are sent, and whether
what arrived is the declared file. Every call here runs with no transaction open."""

import math
import uuid
from dataclasses import dataclass
from datetime import timedelta

import structlog

from services.catalogue.models import Work, WorkVersion
from services.catalogue.storage import Storage
from services.contracts.catalogue import (
    FileIn,
    PresignedPut,
    UploadedPartRead,
    UploadMethod,
    UploadTarget,
)
from services.kit.errors import storage_calls
from storage.keys import work_version_key
from storage.object_store import (
    MAX_PART_NUMBER,
    ChecksumMismatch,
    InvalidPart,
    MiB,
    ObjectNotFound,
    ObjectStore,
    StorageError,
    UploadNotFound,
)

log = structlog.get_logger()

UPLOAD_URL_LIFETIME = timedelta(hours=1)
NOT_UPLOADED = "the file was not uploaded"


@dataclass(frozen=True)
class StoredUpload:
    """Where a version's bytes go in the store, and how they are sent."""

    key: str
    method: UploadMethod
    upload_id: str | None
    part_size: int | None
    part_count: int | None


async def discard(version: WorkVersion, store: ObjectStore) -> None:
    """Remove a replaced upload's bytes; best effort, since the replacement is committed."""
    try:
        if version.upload_id is not None:
            await store.abort_multipart(version.object_key, version.upload_id)
        else:
            await store.delete(version.object_key)
    except StorageError as exc:
        log.info(
            "catalogue.upload.discard_failed",
            version_id=str(version.id),
            error=f"{type(exc).__name__}: {exc}",
        )


class NotYet(Exception):
    """The bytes are not all there yet: nothing changes, the client may resume."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Rejected(Exception):
    """The stored bytes are not the declared file: the version fails for good."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def open_in_store(
    work_id: uuid.UUID, version_id: uuid.UUID, file: FileIn, *, storage: Storage
) -> StoredUpload:
    """Where the version's bytes go; a multipart upload is opened in the store."""
    key = work_version_key(work_id, version_id)
    settings = storage.settings
    if file.size <= settings.multipart_threshold:
        return StoredUpload(key, UploadMethod.SINGLE, None, None, None)
    part_size = settings.part_size
    if math.ceil(file.size / part_size) > MAX_PART_NUMBER:
        # S3 takes at most 10,000 parts: larger files get larger parts.
        part_size = math.ceil(file.size / MAX_PART_NUMBER / MiB) * MiB
    async with storage_calls():
        upload_id = await storage.store.create_multipart(key)
    return StoredUpload(
        key, UploadMethod.MULTIPART, upload_id, part_size, math.ceil(file.size / part_size)
    )


async def presigned_target(
    work: Work,
    version: WorkVersion,
    *,
    storage: Storage,
    uploaded: list[UploadedPartRead],
) -> UploadTarget:
    put = None
    if version.upload_method == UploadMethod.SINGLE:
        async with storage_calls():
            request = await storage.store.presign_put(
                version.object_key,
                expires_in=UPLOAD_URL_LIFETIME,
                content_length=version.size,
                sha256=version.sha256,
            )
        put = PresignedPut(url=request.url, headers=request.headers, expires_at=request.expires_at)
    return UploadTarget(
        work_id=work.id,
        version_id=version.id,
        method=version.upload_method,
        put=put,
        part_size=version.part_size,
        part_count=version.part_count,
        uploaded_parts=uploaded,
    )


async def verify(version: WorkVersion, store: ObjectStore) -> None:
    """Check the stored bytes against the declared size and sha256, or raise why not."""
    if version.upload_id is None or version.part_count is None or version.part_size is None:
        await _verify_object(version, store)
        return
    try:
        parts = await store.list_parts(version.object_key, version.upload_id)
    except UploadNotFound:
        # An earlier completion assembled the parts but its transaction did not
        # commit: whatever is stored decides.
        await _verify_object(version, store)
        return
    by_number = {part.part_number: part for part in parts}
    expected = range(1, version.part_count + 1)
    missing = [number for number in expected if number not in by_number]
    if len(missing) == version.part_count:
        raise NotYet(NOT_UPLOADED)
    if missing:
        raise NotYet(
            f"the file was not uploaded completely: {len(missing)} of "
            f"{version.part_count} parts are missing (first: part {missing[0]})"
        )
    last_size = version.size - version.part_size * (version.part_count - 1)
    for number in expected:
        wanted = version.part_size if number < version.part_count else last_size
        if by_number[number].size != wanted:
            await store.abort_multipart(version.object_key, version.upload_id)
            raise Rejected(
                f"part {number} has {by_number[number].size} bytes, not {wanted}: "
                f"the stored file is not {version.size} bytes"
            )
    try:
        await store.complete_multipart(
            version.object_key,
            version.upload_id,
            [by_number[number] for number in expected],
            sha256=version.sha256,
        )
    except ChecksumMismatch as exc:
        raise Rejected(f"the stored file's sha256 is not the declared {version.sha256}") from exc
    except InvalidPart as exc:
        await store.abort_multipart(version.object_key, version.upload_id)
        raise Rejected(f"the parts could not be assembled: {exc}") from exc


async def _verify_object(version: WorkVersion, store: ObjectStore) -> None:
    try:
        info = await store.head(version.object_key)
    except ObjectNotFound as exc:
        raise NotYet(NOT_UPLOADED) from exc
    if info.size != version.size:
        await store.delete(version.object_key)
        raise Rejected(f"the stored file has {info.size} bytes, not the declared {version.size}")
    actual = await store.compute_sha256(version.object_key)
    if actual != version.sha256:
        await store.delete(version.object_key)
        raise Rejected(f"the stored file's sha256 is {actual}, not the declared {version.sha256}")
