"""The bucket's directories, files that appear whole, sidecars, and file-system errors."""

import asyncio
import errno
import hashlib
import json
import os
import tempfile
from collections.abc import AsyncGenerator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from storage.object_store import (
    CHUNK_SIZE,
    InvalidKey,
    ObjectInfo,
    ObjectNotFound,
    StorageError,
    StorageUnavailable,
)


@dataclass(frozen=True)
class BucketDirectories:
    objects: Path
    meta: Path
    uploads: Path
    tmp: Path

    @classmethod
    def under(cls, root: Path, bucket: str) -> "BucketDirectories":
        return cls(
            objects=root / bucket,
            meta=root / ".meta" / bucket,
            uploads=root / ".uploads" / bucket,
            tmp=root / ".tmp" / bucket,
        )

    def _all(self) -> tuple[Path, ...]:
        return (self.objects, self.meta, self.uploads, self.tmp)

    def create(self) -> None:
        try:
            for directory in self._all():
                directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageUnavailable(str(exc)) from exc

    def check(self) -> None:
        for directory in self._all():
            if not (directory.is_dir() and os.access(directory, os.W_OK | os.X_OK)):
                raise StorageUnavailable(f"{directory} is not a writable directory")


class AtomicFile:
    """A file under ``.tmp`` that becomes visible only when renamed into place."""

    def __init__(self, directory: Path) -> None:
        try:
            fd, name = tempfile.mkstemp(dir=directory)
        except FileNotFoundError:
            raise StorageUnavailable(f"{directory} is missing; was ensure_bucket run?") from None
        self.path = Path(name)
        self.size = 0
        self._file = os.fdopen(fd, "wb")
        self._hasher = hashlib.sha256()

    @property
    def sha256(self) -> str:
        return self._hasher.hexdigest()

    def write(self, chunk: bytes | bytearray) -> None:
        self._file.write(chunk)
        self._hasher.update(chunk)
        self.size += len(chunk)

    def finish(self) -> os.stat_result:
        self._file.flush()
        os.fsync(self._file.fileno())
        result = os.fstat(self._file.fileno())
        self._file.close()
        return result

    def discard(self) -> None:
        self._file.close()
        self.path.unlink(missing_ok=True)


@dataclass
class OpenedObject:
    """An object held open, so its size and bytes come from the same version."""

    info: ObjectInfo
    file: BinaryIO

    async def read_range(
        self, start: int = 0, end: int | None = None
    ) -> AsyncGenerator[bytes, None]:
        """Yield bytes [start, end) and close the file, however the iteration ends."""
        try:
            stop = self.info.size if end is None else min(end, self.info.size)
            await asyncio.to_thread(self.file.seek, start)
            position = start
            while position < stop:
                chunk = await asyncio.to_thread(self.file.read, min(CHUNK_SIZE, stop - position))
                if not chunk:
                    break
                position += len(chunk)
                yield chunk
        finally:
            self.file.close()

    def close(self) -> None:
        self.file.close()


def write_json(tmp: Path, path: Path, value: dict[str, Any]) -> None:
    target = AtomicFile(tmp)
    try:
        target.write(json.dumps(value).encode())
        target.finish()
        os.replace(target.path, path)
    except BaseException:
        target.discard()
        raise


def load_json(path: Path) -> dict[str, Any] | None:
    try:
        loaded = json.loads(path.read_bytes())
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError, ValueError):
        return None
    return loaded if isinstance(loaded, dict) else None


def matching_sidecar(sidecar: dict[str, Any] | None, result: os.stat_result) -> dict[str, Any]:
    if sidecar and sidecar.get("inode") == result.st_ino and sidecar.get("size") == result.st_size:
        return sidecar
    return {}


def etag(result: os.stat_result) -> str:
    return f'"{result.st_ino:x}-{result.st_mtime_ns:x}-{result.st_size:x}"'


def fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def file_system_errors(key: str) -> Iterator[None]:
    try:
        yield
    except (FileExistsError, NotADirectoryError, IsADirectoryError) as exc:
        raise InvalidKey(f"{key!r} clashes with an existing object's path") from exc
    except StorageError:
        raise
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            raise InvalidKey(f"{key!r} has a segment too long for the file system") from exc
        raise StorageUnavailable(str(exc)) from exc


@contextmanager
def missing_as_not_found(key: str) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        # A path that cannot exist (a directory, a file for a parent, an overlong
        # segment) holds no object, just like one that does not exist yet.
        if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.ENAMETOOLONG):
            raise ObjectNotFound(f"no object {key!r}") from None
        raise StorageUnavailable(str(exc)) from exc
