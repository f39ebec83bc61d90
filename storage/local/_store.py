"""The local store: checks the arguments, then runs the file work off the event loop."""

import asyncio
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Sequence
from contextlib import aclosing
from datetime import timedelta
from typing import BinaryIO

from storage.keys import validate_key
from storage.local._files import BucketDirectories, OpenedObject
from storage.local._multipart import UploadFiles
from storage.local._objects import ObjectFiles
from storage.local._signing import UrlSigner
from storage.object_store import (
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


class LocalObjectStore(ObjectStore):
    def __init__(
        self, settings: StorageSettings, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._directories = BucketDirectories.under(settings.local_root.resolve(), settings.bucket)
        self._objects = ObjectFiles(self._directories)
        self._uploads = UploadFiles(self._objects)
        self._signer = UrlSigner(settings, clock)

    async def ensure_bucket(self) -> None:
        await asyncio.to_thread(self._directories.create)

    async def check(self) -> None:
        await asyncio.to_thread(self._directories.check)

    # -- objects --------------------------------------------------------------------------

    async def put(
        self, key: str, data: bytes | BinaryIO, *, content_type: str = DEFAULT_CONTENT_TYPE
    ) -> ObjectInfo:
        validate_key(key)
        return await asyncio.to_thread(self._objects.put, key, data, content_type)

    async def put_stream(
        self,
        key: str,
        chunks: AsyncIterable[bytes],
        *,
        content_type: str = DEFAULT_CONTENT_TYPE,
        size: int | None = None,
        sha256: str | None = None,
    ) -> ObjectInfo:
        """Write an object from an async byte stream, refusing it unless it has the
        declared size and sha256."""
        validate_key(key)
        target = await self._objects.receive(chunks, size=size, sha256=sha256)
        return await asyncio.to_thread(self._objects.commit, key, target, content_type)

    async def head(self, key: str) -> ObjectInfo:
        validate_key(key)
        return await asyncio.to_thread(self._objects.head, key)

    async def open(self, key: str) -> OpenedObject:
        validate_key(key)
        return await asyncio.to_thread(self._objects.open, key)

    async def stream(
        self, key: str, *, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        check_range(start, end)
        opened = await self.open(key)
        async with aclosing(opened.read_range(start, end)) as chunks:
            async for chunk in chunks:
                yield chunk

    async def list_keys(self, *, prefix: str = "") -> AsyncIterator[str]:
        for key in await asyncio.to_thread(self._objects.keys, prefix):
            yield key

    async def delete(self, key: str) -> None:
        validate_key(key)
        await asyncio.to_thread(self._objects.delete, key)

    async def compute_sha256(self, key: str) -> str:
        validate_key(key)
        return await asyncio.to_thread(self._objects.compute_sha256, key)

    # -- multipart uploads ----------------------------------------------------------------

    async def create_multipart(self, key: str, *, content_type: str = DEFAULT_CONTENT_TYPE) -> str:
        validate_key(key)
        return await asyncio.to_thread(self._uploads.create, key, content_type)

    async def upload_part(
        self, key: str, upload_id: str, part_number: int, data: bytes
    ) -> UploadedPart:
        async def once() -> AsyncIterator[bytes]:
            yield data

        return await self.upload_part_stream(key, upload_id, part_number, once())

    async def upload_part_stream(
        self,
        key: str,
        upload_id: str,
        part_number: int,
        chunks: AsyncIterable[bytes],
        *,
        sha256: str | None = None,
    ) -> UploadedPart:
        """Store one part from an async byte stream, refusing it unless it hashes to
        ``sha256`` when one is given."""
        validate_key(key)
        check_part_number(part_number)
        # Fail before reading a body that has nowhere to go.
        await asyncio.to_thread(self._uploads.find, key, upload_id)
        target = await self._objects.receive(chunks, size=None, sha256=sha256)
        return await asyncio.to_thread(
            self._uploads.commit_part, key, upload_id, part_number, target
        )

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
        return await asyncio.to_thread(self._uploads.complete, key, upload_id, list(parts), sha256)

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        validate_key(key)
        await asyncio.to_thread(self._uploads.abort, key, upload_id)

    async def close(self) -> None:
        """Nothing is held open between calls."""

    # -- signed URLs ----------------------------------------------------------------------

    async def presign_get(
        self, key: str, *, expires_in: timedelta, filename: str | None = None
    ) -> str:
        validate_key(key)
        return self._signer.get_url(key, expires_in=expires_in, filename=filename)

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
        return self._signer.put_request(
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
        return self._signer.part_request(
            key, upload_id, part_number, expires_in=expires_in, sha256=sha256
        )

    def verify(self, key: str, query: Sequence[tuple[str, str]], method: str) -> dict[str, str]:
        """Check a signed URL's signature, expiry and method; return its parameters."""
        validate_key(key)
        return self._signer.verify(key, query, method)
