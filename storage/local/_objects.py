"""Objects and their sidecars: written whole, read at one version, hashed, deleted.

Every method but ``receive`` blocks; the store runs them off the event loop.
"""

import asyncio
import hashlib
import os
import stat
from collections.abc import AsyncIterable
from contextlib import suppress
from typing import BinaryIO

from storage.local._files import (
    AtomicFile,
    BucketDirectories,
    OpenedObject,
    etag,
    file_system_errors,
    fsync_directory,
    load_json,
    matching_sidecar,
    missing_as_not_found,
    write_json,
)
from storage.object_store import (
    CHUNK_SIZE,
    ChecksumMismatch,
    ObjectInfo,
    ObjectNotFound,
    StorageError,
    check_sha256,
)


class SizeMismatch(StorageError):
    """The body's length differs from the length the URL was signed for."""


class ObjectFiles:
    def __init__(self, directories: BucketDirectories) -> None:
        self.directories = directories

    def new_file(self) -> AtomicFile:
        return AtomicFile(self.directories.tmp)

    def put(self, key: str, data: bytes | BinaryIO, content_type: str) -> ObjectInfo:
        target = self.new_file()
        try:
            if isinstance(data, bytes):
                target.write(data)
            else:
                while chunk := data.read(CHUNK_SIZE):
                    target.write(chunk)
        except BaseException:
            target.discard()
            raise
        return self.commit(key, target, content_type)

    async def receive(
        self, chunks: AsyncIterable[bytes], *, size: int | None, sha256: str | None
    ) -> AtomicFile:
        """Write a byte stream to a new file, refusing it unless it has the size and
        sha256 given (where they are given)."""
        if sha256 is not None:
            check_sha256(sha256)
        target = await asyncio.to_thread(self.new_file)
        try:
            pending = bytearray()
            async for chunk in chunks:
                pending += chunk
                if size is not None and target.size + len(pending) > size:
                    raise SizeMismatch(f"the body is longer than the {size} bytes signed for")
                # One thread hop per chunk-sized batch, not per network read.
                if len(pending) >= CHUNK_SIZE:
                    batch, pending = pending, bytearray()
                    await asyncio.to_thread(target.write, batch)
            await asyncio.to_thread(target.write, pending)
            if size is not None and target.size != size:
                raise SizeMismatch(f"the body has {target.size} bytes, not {size}")
            if sha256 is not None and target.sha256 != sha256:
                raise ChecksumMismatch(f"the body hashes to {target.sha256}, not {sha256}")
        except BaseException:
            target.discard()
            raise
        return target

    def commit(self, key: str, target: AtomicFile, content_type: str) -> ObjectInfo:
        """Rename a finished file into place as the object ``key``, its sidecar first."""
        path = self.directories.objects / key
        sidecar_path = self.directories.meta / key
        try:
            with file_system_errors(key):
                result = target.finish()
                sidecar = {
                    "size": target.size,
                    "sha256": target.sha256,
                    "content_type": content_type,
                    "inode": result.st_ino,
                }
                sidecar_path.parent.mkdir(parents=True, exist_ok=True)
                write_json(self.directories.tmp, sidecar_path, sidecar)
                path.parent.mkdir(parents=True, exist_ok=True)
                os.replace(target.path, path)
                fsync_directory(path.parent)
        except BaseException:
            target.discard()
            raise
        return ObjectInfo(key, target.size, target.sha256, content_type, etag(result))

    def head(self, key: str) -> ObjectInfo:
        with missing_as_not_found(key):
            result = os.stat(self.directories.objects / key)
        if not stat.S_ISREG(result.st_mode):
            raise ObjectNotFound(f"no object {key!r}")
        return self._info(key, result)

    def _info(self, key: str, result: os.stat_result) -> ObjectInfo:
        sidecar = matching_sidecar(load_json(self.directories.meta / key), result)
        return ObjectInfo(
            key=key,
            size=result.st_size,
            sha256=sidecar.get("sha256"),
            content_type=sidecar.get("content_type"),
            etag=etag(result),
        )

    def open(self, key: str) -> OpenedObject:
        with missing_as_not_found(key):
            file = (self.directories.objects / key).open("rb")
        return OpenedObject(self._info(key, os.fstat(file.fileno())), file)

    def keys(self, prefix: str) -> list[str]:
        root = self.directories.objects
        with file_system_errors(prefix):
            files = [path.relative_to(root).as_posix() for path in root.rglob("*")]
        return sorted(key for key in files if key.startswith(prefix) and (root / key).is_file())

    def delete(self, key: str) -> None:
        # The object first: once it is gone, a leftover sidecar is never read.
        for path in (self.directories.objects / key, self.directories.meta / key):
            with suppress(FileNotFoundError, NotADirectoryError, IsADirectoryError):
                path.unlink()

    def compute_sha256(self, key: str) -> str:
        opened = self.open(key)
        hasher = hashlib.sha256()
        with opened.file:
            while chunk := opened.file.read(CHUNK_SIZE):
                hasher.update(chunk)
        return hasher.hexdigest()
