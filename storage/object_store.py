"""The object-store interface every backend implements, its settings and its errors."""

import abc
import base64
import binascii
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO, Literal
from urllib.parse import quote

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

MiB = 1024 * 1024
# S3 refuses parts below 5 MiB except the last, and more than 10,000 parts; the local
# backend enforces the same limits so that a client written against it works on S3.
MIN_PART_SIZE = 5 * MiB
MAX_PART_SIZE = 5 * 1024 * MiB
MAX_PART_NUMBER = 10_000
# The longest expiry SigV4 allows; the local backend keeps to it too.
MAX_PRESIGN_EXPIRY = timedelta(days=7)
DEFAULT_CONTENT_TYPE = "application/octet-stream"
# Streams move in chunks of this size, which bounds the memory a transfer holds.
CHUNK_SIZE = MiB

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


class StorageSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ASSENT_STORAGE_", extra="ignore")

    backend: Literal["local", "s3"] = "local"
    local_root: Path = Path("var/objects")
    public_url: str = "http://127.0.0.1:8005"
    # Empty on purpose: there is no safe default, and the local backend refuses to
    # presign (and its server to start) until one is configured.
    signing_secret: SecretStr = SecretStr("")
    s3_endpoint_url: str | None = None
    # Where browsers and labs reach the store, when the processes reach it at another
    # address (a compose network's `http://minio:9000`, a Service in a cluster): presigned
    # URLs name it, and a SigV4 signature covers the host. Unset: the endpoint URL.
    s3_public_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    # None falls back to boto3's credential chain (environment, instance role, ...).
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_addressing_style: Literal["path", "virtual", "auto"] = "path"
    s3_max_attempts: int = Field(default=5, ge=1)
    bucket: str = Field(default="assent", pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    multipart_threshold: int = Field(default=64 * MiB, gt=0)
    part_size: int = Field(default=16 * MiB, ge=MIN_PART_SIZE, le=MAX_PART_SIZE)
    connect_timeout: float = Field(default=5.0, gt=0)
    read_timeout: float = Field(default=60.0, gt=0)

    @property
    def s3_presign_endpoint_url(self) -> str | None:
        """The endpoint presigned URLs name (None: AWS S3's own)."""
        return self.s3_public_endpoint_url or self.s3_endpoint_url


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    # None when the object was written without one (for example by another tool).
    sha256: str | None
    content_type: str | None
    etag: str | None


@dataclass(frozen=True)
class UploadedPart:
    part_number: int
    size: int
    # None only when an S3-compatible server does not report part checksums (moto).
    sha256: str | None
    etag: str


@dataclass(frozen=True)
class PresignedRequest:
    method: str
    url: str
    headers: dict[str, str]
    expires_at: datetime


class StorageError(Exception):
    """Base of every error an object store raises."""


class ObjectNotFound(StorageError):
    pass


class UploadNotFound(StorageError):
    pass


class StorageUnavailable(StorageError):
    pass


class ChecksumMismatch(StorageError):
    pass


class InvalidKey(StorageError):
    pass


class InvalidPart(StorageError):
    """The parts given to complete an upload are missing, out of order or too small."""


class ObjectStore(abc.ABC):
    """One bucket of one backend. Ranges are half-open: ``start`` inclusive, ``end`` not."""

    @abc.abstractmethod
    async def ensure_bucket(self) -> None: ...

    @abc.abstractmethod
    async def check(self) -> None:
        """Raise StorageUnavailable unless the bucket can be used."""

    @abc.abstractmethod
    async def put(
        self, key: str, data: bytes | BinaryIO, *, content_type: str = DEFAULT_CONTENT_TYPE
    ) -> ObjectInfo: ...

    @abc.abstractmethod
    async def head(self, key: str) -> ObjectInfo: ...

    @abc.abstractmethod
    def stream(self, key: str, *, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """Yield the bytes in bounded chunks; errors surface on the first iteration."""

    async def get(self, key: str) -> bytes:
        return b"".join([chunk async for chunk in self.stream(key)])

    @abc.abstractmethod
    def list_keys(self, *, prefix: str = "") -> AsyncIterator[str]:
        """Yield the key of every object whose key starts with ``prefix``, in key order,
        a page at a time (a backup walks a whole bucket this way)."""

    @abc.abstractmethod
    async def delete(self, key: str) -> None:
        """Remove the object; removing a missing object is not an error."""

    @abc.abstractmethod
    async def compute_sha256(self, key: str) -> str: ...

    @abc.abstractmethod
    async def create_multipart(
        self, key: str, *, content_type: str = DEFAULT_CONTENT_TYPE
    ) -> str: ...

    @abc.abstractmethod
    async def upload_part(
        self, key: str, upload_id: str, part_number: int, data: bytes
    ) -> UploadedPart: ...

    @abc.abstractmethod
    async def list_parts(self, key: str, upload_id: str) -> list[UploadedPart]: ...

    @abc.abstractmethod
    async def complete_multipart(
        self,
        key: str,
        upload_id: str,
        parts: Sequence[UploadedPart],
        *,
        sha256: str | None = None,
    ) -> ObjectInfo:
        """Assemble the parts, then hash the whole object and record its sha256.

        Hashing reads the object back once: it is what makes ``head().sha256`` a value
        the store computed rather than one a client declared. When ``sha256`` is given
        and differs, the object is deleted and ChecksumMismatch raised; the upload is
        consumed either way.
        """

    @abc.abstractmethod
    async def abort_multipart(self, key: str, upload_id: str) -> None:
        """Discard the upload and its parts; aborting twice is not an error."""

    @abc.abstractmethod
    async def presign_get(
        self, key: str, *, expires_in: timedelta, filename: str | None = None
    ) -> str: ...

    @abc.abstractmethod
    async def presign_put(
        self,
        key: str,
        *,
        expires_in: timedelta,
        content_length: int | None = None,
        sha256: str | None = None,
        content_type: str | None = None,
    ) -> PresignedRequest: ...

    @abc.abstractmethod
    async def presign_upload_part(
        self,
        key: str,
        upload_id: str,
        part_number: int,
        *,
        expires_in: timedelta,
        sha256: str,
    ) -> PresignedRequest:
        """Presign one part; ``sha256`` is required because S3 rejects unchecksummed
        parts of an upload created with a SHA256 checksum."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections; the store is unusable afterwards."""


def is_sha256(value: str) -> bool:
    return _SHA256_HEX.fullmatch(value) is not None


def check_sha256(sha256: str) -> str:
    if not is_sha256(sha256):
        raise ValueError("sha256 must be 64 lowercase hexadecimal characters")
    return sha256


def sha256_to_base64(sha256: str) -> str:
    return base64.b64encode(bytes.fromhex(check_sha256(sha256))).decode("ascii")


def base64_to_sha256(value: str) -> str | None:
    try:
        digest = base64.b64decode(value, validate=True)
    except binascii.Error:
        return None
    return digest.hex() if len(digest) == 32 else None


def check_range(start: int, end: int | None) -> None:
    if start < 0 or (end is not None and end < start):
        raise ValueError(f"invalid byte range [{start}, {end})")


def check_part_number(part_number: int) -> None:
    if not 1 <= part_number <= MAX_PART_NUMBER:
        raise ValueError(f"part number must be between 1 and {MAX_PART_NUMBER}")


def expiry_seconds(expires_in: timedelta) -> int:
    seconds = int(expires_in.total_seconds())
    if not 0 < seconds <= MAX_PRESIGN_EXPIRY.total_seconds():
        raise ValueError("a presigned URL must expire within 1 second to 7 days")
    return seconds


def presigned_put_headers(content_length: int | None, content_type: str | None) -> dict[str, str]:
    """The headers a presigned PUT tells its client to send, the same on every backend so
    that a client written against one works against the other."""
    headers = {}
    if content_length is not None:
        headers["Content-Length"] = str(content_length)
    if content_type is not None:
        headers["Content-Type"] = content_type
    return headers


def content_disposition(filename: str) -> str:
    # The quoted ASCII form is for old clients; filename* carries the exact UTF-8 name.
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
