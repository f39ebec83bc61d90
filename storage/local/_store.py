"""The local-directory backend for the embedded run mode, with HMAC-signed URLs.

Layout under ``local_root``::

    <bucket>/<key>                      the object's bytes, exactly
    .meta/<bucket>/<key>                JSON sidecar: size, sha256, content type, inode
    .uploads/<bucket>/<upload id>/      upload.json, <n>.part and <n>.json per part
    .tmp/<bucket>/                      files being written

Every write goes to ``.tmp`` first and is fsynced, then renamed into place, so no reader
ever sees part of an object. The temporary files live in a directory of their own (on the
same file system, which is what makes the rename atomic) so that a crash leaves no stray
file in the object tree. A sidecar is renamed into place before its object and names the
object's inode: a sidecar that does not match its file is treated as absent, so head may
report an unknown sha256 but never a wrong one.
"""

import asyncio
import errno
import hashlib
import hmac
import json
import os
import re
import shutil
import stat
import tempfile
import time
import uuid
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Callable,
    Iterator,
    Sequence,
)
from contextlib import aclosing, contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote, urlencode

from storage.keys import validate_key
from storage.object_store import (
    CHUNK_SIZE,
    DEFAULT_CONTENT_TYPE,
    MIN_PART_SIZE,
    ChecksumMismatch,
    InvalidKey,
    InvalidPart,
    ObjectInfo,
    ObjectNotFound,
    ObjectStore,
    PresignedRequest,
    StorageError,
    StorageSettings,
    StorageUnavailable,
    UploadedPart,
    UploadNotFound,
    check_part_number,
    check_range,
    check_sha256,
    expiry_seconds,
)

_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")
_SIGNATURE_VERSION = "assent-local-v1"
# Which HTTP methods each signed operation admits.
_METHODS = {"get": {"GET", "HEAD"}, "put": {"PUT"}, "part": {"PUT"}}


class UrlExpired(StorageError):
    pass


class SignatureInvalid(StorageError):
    pass


class SizeMismatch(StorageError):
    """The body's length differs from the length the URL was signed for."""


class _AtomicFile:
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


def _etag(result: os.stat_result) -> str:
    return f'"{result.st_ino:x}-{result.st_mtime_ns:x}-{result.st_size:x}"'


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _load_json(path: Path) -> dict[str, Any] | None:
    try:
        loaded = json.loads(path.read_bytes())
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError, ValueError):
        return None
    return loaded if isinstance(loaded, dict) else None


def _matching(sidecar: dict[str, Any] | None, result: os.stat_result) -> dict[str, Any]:
    if sidecar and sidecar.get("inode") == result.st_ino and sidecar.get("size") == result.st_size:
        return sidecar
    return {}


@contextmanager
def _file_system_errors(key: str) -> Iterator[None]:
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
def _missing_as_not_found(key: str) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        # A path that cannot exist (a directory, a file for a parent, an overlong
        # segment) holds no object, just like one that does not exist yet.
        if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.ENAMETOOLONG):
            raise ObjectNotFound(f"no object {key!r}") from None
        raise StorageUnavailable(str(exc)) from exc


class LocalObjectStore(ObjectStore):
    def __init__(
        self, settings: StorageSettings, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._bucket = settings.bucket
        root = settings.local_root.resolve()
        self._objects = root / self._bucket
        self._meta = root / ".meta" / self._bucket
        self._uploads = root / ".uploads" / self._bucket
        self._tmp = root / ".tmp" / self._bucket
        self._public_url = settings.public_url.rstrip("/")
        self._secret = settings.signing_secret.get_secret_value().encode()
        self._clock = clock

    async def ensure_bucket(self) -> None:
        await asyncio.to_thread(self._ensure_bucket)

    def _ensure_bucket(self) -> None:
        try:
            for directory in (self._objects, self._meta, self._uploads, self._tmp):
                directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageUnavailable(str(exc)) from exc

    async def check(self) -> None:
        await asyncio.to_thread(self._check)

    def _check(self) -> None:
        for directory in (self._objects, self._meta, self._uploads, self._tmp):
            if not (directory.is_dir() and os.access(directory, os.W_OK | os.X_OK)):
                raise StorageUnavailable(f"{directory} is not a writable directory")

    # -- objects --------------------------------------------------------------------------

    async def put(
        self, key: str, data: bytes | BinaryIO, *, content_type: str = DEFAULT_CONTENT_TYPE
    ) -> ObjectInfo:
        validate_key(key)
        return await asyncio.to_thread(self._put, key, data, content_type)

    def _put(self, key: str, data: bytes | BinaryIO, content_type: str) -> ObjectInfo:
        target = _AtomicFile(self._tmp)
        try:
            if isinstance(data, bytes):
                target.write(data)
            else:
                while chunk := data.read(CHUNK_SIZE):
                    target.write(chunk)
        except BaseException:
            target.discard()
            raise
        return self._commit_object(key, target, content_type)

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
        target = await self._receive(chunks, size=size, sha256=sha256)
        return await asyncio.to_thread(self._commit_object, key, target, content_type)

    def _commit_object(self, key: str, target: _AtomicFile, content_type: str) -> ObjectInfo:
        path = self._objects / key
        try:
            with _file_system_errors(key):
                result = target.finish()
                sidecar = {
                    "size": target.size,
                    "sha256": target.sha256,
                    "content_type": content_type,
                    "inode": result.st_ino,
                }
                (self._meta / key).parent.mkdir(parents=True, exist_ok=True)
                self._write_json(self._meta / key, sidecar)
                path.parent.mkdir(parents=True, exist_ok=True)
                os.replace(target.path, path)
                _fsync_directory(path.parent)
        except BaseException:
            target.discard()
            raise
        return ObjectInfo(key, target.size, target.sha256, content_type, _etag(result))

    def _write_json(self, path: Path, value: dict[str, Any]) -> None:
        target = _AtomicFile(self._tmp)
        try:
            target.write(json.dumps(value).encode())
            target.finish()
            os.replace(target.path, path)
        except BaseException:
            target.discard()
            raise

    async def _receive(
        self, chunks: AsyncIterable[bytes], *, size: int | None, sha256: str | None
    ) -> _AtomicFile:
        if sha256 is not None:
            check_sha256(sha256)
        target = await asyncio.to_thread(_AtomicFile, self._tmp)
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

    async def head(self, key: str) -> ObjectInfo:
        validate_key(key)
        return await asyncio.to_thread(self._head, key)

    def _head(self, key: str) -> ObjectInfo:
        with _missing_as_not_found(key):
            result = os.stat(self._objects / key)
        if not stat.S_ISREG(result.st_mode):
            raise ObjectNotFound(f"no object {key!r}")
        return self._info(key, result)

    def _info(self, key: str, result: os.stat_result) -> ObjectInfo:
        sidecar = _matching(_load_json(self._meta / key), result)
        return ObjectInfo(
            key=key,
            size=result.st_size,
            sha256=sidecar.get("sha256"),
            content_type=sidecar.get("content_type"),
            etag=_etag(result),
        )

    async def open(self, key: str) -> OpenedObject:
        validate_key(key)
        return await asyncio.to_thread(self._open, key)

    def _open(self, key: str) -> OpenedObject:
        with _missing_as_not_found(key):
            file = (self._objects / key).open("rb")
        return OpenedObject(self._info(key, os.fstat(file.fileno())), file)

    async def stream(
        self, key: str, *, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        check_range(start, end)
        opened = await self.open(key)
        async with aclosing(opened.read_range(start, end)) as chunks:
            async for chunk in chunks:
                yield chunk

    async def delete(self, key: str) -> None:
        validate_key(key)
        await asyncio.to_thread(self._delete, key)

    def _delete(self, key: str) -> None:
        # The object first: once it is gone, a leftover sidecar is never read.
        for path in (self._objects / key, self._meta / key):
            with suppress(FileNotFoundError, NotADirectoryError, IsADirectoryError):
                path.unlink()

    async def compute_sha256(self, key: str) -> str:
        validate_key(key)
        return await asyncio.to_thread(self._hash_object, key)

    def _hash_object(self, key: str) -> str:
        opened = self._open(key)
        hasher = hashlib.sha256()
        with opened.file:
            while chunk := opened.file.read(CHUNK_SIZE):
                hasher.update(chunk)
        return hasher.hexdigest()

    # -- multipart uploads ----------------------------------------------------------------

    async def create_multipart(self, key: str, *, content_type: str = DEFAULT_CONTENT_TYPE) -> str:
        validate_key(key)
        return await asyncio.to_thread(self._create_multipart, key, content_type)

    def _create_multipart(self, key: str, content_type: str) -> str:
        upload_id = uuid.uuid4().hex
        directory = self._uploads / upload_id
        with _file_system_errors(key):
            directory.mkdir()
            self._write_json(directory / "upload.json", {"key": key, "content_type": content_type})
        return upload_id

    def _upload_directory(self, key: str, upload_id: str) -> tuple[Path, dict[str, Any]]:
        if _UPLOAD_ID.fullmatch(upload_id):
            directory = self._uploads / upload_id
            upload = _load_json(directory / "upload.json")
            if upload is not None and upload.get("key") == key:
                return directory, upload
        raise UploadNotFound(f"no upload {upload_id!r} for key {key!r}")

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
        await asyncio.to_thread(self._upload_directory, key, upload_id)
        target = await self._receive(chunks, size=None, sha256=sha256)
        return await asyncio.to_thread(self._commit_part, key, upload_id, part_number, target)

    def _commit_part(
        self, key: str, upload_id: str, part_number: int, target: _AtomicFile
    ) -> UploadedPart:
        try:
            directory, _ = self._upload_directory(key, upload_id)
            result = target.finish()
            etag = f'"{target.sha256}"'
            sidecar = {"size": target.size, "sha256": target.sha256, "inode": result.st_ino}
            self._write_json(directory / f"{part_number}.json", {**sidecar, "etag": etag})
            os.replace(target.path, directory / f"{part_number}.part")
        except FileNotFoundError:
            target.discard()
            raise UploadNotFound(f"upload {upload_id!r} was aborted or completed") from None
        except BaseException:
            target.discard()
            raise
        return UploadedPart(part_number, target.size, target.sha256, etag)

    async def list_parts(self, key: str, upload_id: str) -> list[UploadedPart]:
        validate_key(key)
        return await asyncio.to_thread(self._list_parts, key, upload_id)

    def _list_parts(self, key: str, upload_id: str) -> list[UploadedPart]:
        directory, _ = self._upload_directory(key, upload_id)
        parts = []
        for path in directory.glob("*.part"):
            try:
                result = path.stat()
            except FileNotFoundError:
                continue
            # A part whose sidecar does not match is listed as missing, so it is sent again.
            sidecar = _matching(_load_json(path.with_suffix(".json")), result)
            if sidecar:
                parts.append(
                    UploadedPart(int(path.stem), result.st_size, sidecar["sha256"], sidecar["etag"])
                )
        return sorted(parts, key=lambda part: part.part_number)

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
        return await asyncio.to_thread(self._complete, key, upload_id, list(parts), sha256)

    def _complete(
        self, key: str, upload_id: str, parts: list[UploadedPart], expected: str | None
    ) -> ObjectInfo:
        directory, upload = self._upload_directory(key, upload_id)
        stored = {part.part_number: part for part in self._list_parts(key, upload_id)}
        _check_parts(parts, stored)
        target = _AtomicFile(self._tmp)
        try:
            for part in parts:
                with (directory / f"{part.part_number}.part").open("rb") as source:
                    while chunk := source.read(CHUNK_SIZE):
                        target.write(chunk)
        except BaseException:
            target.discard()
            raise
        if expected is not None and target.sha256 != expected:
            target.discard()
            self._remove_upload(directory)
            raise ChecksumMismatch(f"{key!r}: the parts hash to {target.sha256}, not {expected}")
        info = self._commit_object(key, target, upload["content_type"])
        self._remove_upload(directory)
        return info

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        validate_key(key)
        await asyncio.to_thread(self._abort, key, upload_id)

    def _abort(self, key: str, upload_id: str) -> None:
        try:
            directory, _ = self._upload_directory(key, upload_id)
        except UploadNotFound:
            return
        self._remove_upload(directory)

    def _remove_upload(self, directory: Path) -> None:
        # Removing upload.json first ends the upload at once; a part racing the removal
        # can then only leave an orphan file behind, never revive the upload.
        (directory / "upload.json").unlink(missing_ok=True)
        shutil.rmtree(directory, ignore_errors=True)

    async def close(self) -> None:
        """Nothing is held open between calls."""

    # -- signed URLs ----------------------------------------------------------------------

    async def presign_get(
        self, key: str, *, expires_in: timedelta, filename: str | None = None
    ) -> str:
        validate_key(key)
        params = {"op": "get", "exp": str(self._expiry(expires_in))}
        if filename is not None:
            params["filename"] = filename
        return self._signed_url(key, params)

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
        expires = self._expiry(expires_in)
        params = {"op": "put", "exp": str(expires)}
        headers = {}
        if content_length is not None:
            params["len"] = str(content_length)
            headers["Content-Length"] = str(content_length)
        if sha256 is not None:
            params["sha256"] = check_sha256(sha256)
        if content_type is not None:
            params["type"] = content_type
            headers["Content-Type"] = content_type
        return PresignedRequest(
            "PUT", self._signed_url(key, params), headers, datetime.fromtimestamp(expires, UTC)
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
        expires = self._expiry(expires_in)
        params = {
            "op": "part",
            "exp": str(expires),
            "upload": upload_id,
            "part": str(part_number),
            "sha256": check_sha256(sha256),
        }
        return PresignedRequest(
            "PUT", self._signed_url(key, params), {}, datetime.fromtimestamp(expires, UTC)
        )

    def verify(self, key: str, query: Sequence[tuple[str, str]], method: str) -> dict[str, str]:
        """Check a signed URL's signature, expiry and method; return its parameters."""
        validate_key(key)
        params = dict(query)
        if len(params) != len(query):
            raise SignatureInvalid("a query parameter is repeated")
        signature = params.pop("sig", "")
        if not hmac.compare_digest(signature.encode(), self._sign(key, params).encode()):
            raise SignatureInvalid("the signature does not match the URL")
        if self._clock() > int(params["exp"]):
            raise UrlExpired("the URL has expired")
        if method not in _METHODS.get(params["op"], set()):
            raise SignatureInvalid(f"the URL is not signed for {method}")
        return params

    def _expiry(self, expires_in: timedelta) -> int:
        return int(self._clock()) + expiry_seconds(expires_in)

    def _signed_url(self, key: str, params: dict[str, str]) -> str:
        query = urlencode({**params, "sig": self._sign(key, params)})
        return f"{self._public_url}/o/{quote(key, safe='/')}?{query}"

    def _sign(self, key: str, params: dict[str, str]) -> str:
        if not self._secret:
            raise StorageError("ASSENT_STORAGE_SIGNING_SECRET is not set; refusing to sign")
        # Keys cannot hold newlines (validate_key), so the fields cannot run together.
        message = "\n".join(
            [_SIGNATURE_VERSION, self._bucket, key, urlencode(sorted(params.items()))]
        )
        return hmac.new(self._secret, message.encode(), hashlib.sha256).hexdigest()


def _check_parts(parts: list[UploadedPart], stored: dict[int, UploadedPart]) -> None:
    if not parts:
        raise InvalidPart("an upload needs at least one part")
    numbers = [part.part_number for part in parts]
    if numbers != sorted(set(numbers)):
        raise InvalidPart("parts must be listed once each, in ascending order")
    for index, part in enumerate(parts):
        found = stored.get(part.part_number)
        if found is None or found.etag != part.etag:
            raise InvalidPart(f"part {part.part_number} was not uploaded with that ETag")
        if index < len(parts) - 1 and found.size < MIN_PART_SIZE:
            raise InvalidPart(f"part {part.part_number} is smaller than {MIN_PART_SIZE} bytes")
