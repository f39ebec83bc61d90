"""The S3 store: checks the arguments, then runs the client's calls off the event loop."""

import asyncio
import hashlib
import io
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import BinaryIO

from storage.keys import validate_key
from storage.object_store import (
    CHUNK_SIZE,
    DEFAULT_CONTENT_TYPE,
    ObjectInfo,
    ObjectStore,
    PresignedRequest,
    StorageSettings,
    UploadedPart,
    check_part_number,
    check_range,
    check_sha256,
)
from storage.s3._client import create_s3_client
from storage.s3._multipart import S3Uploads, read_up_to
from storage.s3._objects import S3Objects
from storage.s3._presign import S3Presigner


class S3ObjectStore(ObjectStore):
    def __init__(self, settings: StorageSettings) -> None:
        self._multipart_threshold = settings.multipart_threshold
        self._client = create_s3_client(settings)
        self._objects = S3Objects(self._client, settings)
        self._uploads = S3Uploads(self._client, settings, self._objects)
        # Presigning is local (no request), so a client of its own for a public address
        # costs its creation only; the store's own calls keep the internal endpoint.
        self._presign_client = (
            create_s3_client(settings, endpoint_url=settings.s3_public_endpoint_url)
            if settings.s3_public_endpoint_url
            else self._client
        )
        self._presigner = S3Presigner(self._presign_client, settings.bucket)

    async def ensure_bucket(self) -> None:
        await asyncio.to_thread(self._objects.ensure_bucket)

    async def check(self) -> None:
        await asyncio.to_thread(self._objects.check)

    # -- objects --------------------------------------------------------------------------

    async def put(
        self, key: str, data: bytes | BinaryIO, *, content_type: str = DEFAULT_CONTENT_TYPE
    ) -> ObjectInfo:
        validate_key(key)
        return await asyncio.to_thread(self._put, key, data, content_type)

    def _put(self, key: str, data: bytes | BinaryIO, content_type: str) -> ObjectInfo:
        stream = io.BytesIO(data) if isinstance(data, bytes) else data
        threshold = self._multipart_threshold
        first = read_up_to(stream, threshold + 1)
        if len(first) <= threshold:
            return self._objects.put_whole(key, first, content_type)
        known = hashlib.sha256(data).hexdigest() if isinstance(data, bytes) else None
        return self._uploads.put_in_parts(key, first, stream, content_type, known)

    async def head(self, key: str) -> ObjectInfo:
        validate_key(key)
        return await asyncio.to_thread(self._objects.head, key)

    async def stream(
        self, key: str, *, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        validate_key(key)
        check_range(start, end)
        body = await asyncio.to_thread(self._objects.open, key, start, end)
        if body is None:
            return
        try:
            while chunk := await asyncio.to_thread(body.read, CHUNK_SIZE):
                yield chunk
        finally:
            body.close()

    async def get(self, key: str) -> bytes:
        validate_key(key)
        return await asyncio.to_thread(self._objects.get, key)

    async def list_keys(self, *, prefix: str = "") -> AsyncIterator[str]:
        after: str | None = None
        while True:
            page, after = await asyncio.to_thread(self._objects.list_page, prefix, after)
            for key in page:
                yield key
            if after is None:
                return

    async def delete(self, key: str) -> None:
        validate_key(key)
        await asyncio.to_thread(self._objects.delete, key)

    async def compute_sha256(self, key: str) -> str:
        validate_key(key)
        return await asyncio.to_thread(self._objects.compute_sha256, key)

    # -- multipart uploads ----------------------------------------------------------------

    async def create_multipart(self, key: str, *, content_type: str = DEFAULT_CONTENT_TYPE) -> str:
        validate_key(key)
        return await asyncio.to_thread(self._uploads.create, key, content_type, None)

    async def upload_part(
        self, key: str, upload_id: str, part_number: int, data: bytes
    ) -> UploadedPart:
        validate_key(key)
        check_part_number(part_number)
        return await asyncio.to_thread(self._uploads.upload_part, key, upload_id, part_number, data)

    async def list_parts(self, key: str, upload_id: str) -> list[UploadedPart]:
        validate_key(key)
        return await asyncio.to_thread(self._uploads.list_parts, key, upload_id)

    async def complete_multipart(
        self,
        key: str,
        upload_id: str,
        parts: Sequence[UploadedPart],
        *,
        sha256: str | None = None,
    ) -> ObjectInfo:
        validate_key(key)
        if sha256 is not None:
            check_sha256(sha256)
        return await asyncio.to_thread(
            self._uploads.complete_and_record, key, upload_id, list(parts), sha256
        )

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        validate_key(key)
        await asyncio.to_thread(self._uploads.abort, key, upload_id)

    # -- presigned URLs -------------------------------------------------------------------

    async def presign_get(
        self, key: str, *, expires_in: timedelta, filename: str | None = None
    ) -> str:
        validate_key(key)
        return await self._presigner.get_url(key, expires_in=expires_in, filename=filename)

    async def presign_put(
        self,
        key: str,
        *,
        expires_in: timedelta,
        content_length: int | None = None,
        sha256: str | None = None,
        content_type: str | None = None,
    ) -> PresignedRequest:
        validate_key(key)
        return await self._presigner.put_request(
            key,
            expires_in=expires_in,
            content_length=content_length,
            sha256=sha256,
            content_type=content_type,
        )

    async def presign_upload_part(
        self,
        key: str,
        upload_id: str,
        part_number: int,
        *,
        expires_in: timedelta,
        sha256: str,
    ) -> PresignedRequest:
        validate_key(key)
        check_part_number(part_number)
        return await self._presigner.part_request(
            key, upload_id, part_number, expires_in=expires_in, sha256=sha256
        )

    async def close(self) -> None:
        await asyncio.to_thread(self._client.close)
        if self._presign_client is not self._client:
            await asyncio.to_thread(self._presign_client.close)
