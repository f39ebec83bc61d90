"""The S3 backend (AWS, MinIO, Ceph, R2): one boto3 client per store, every call off the loop."""

import asyncio
import hashlib
import io
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, BinaryIO, cast

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.response import StreamingBody

from storage.keys import validate_key
from storage.object_store import (
    CHUNK_SIZE,
    DEFAULT_CONTENT_TYPE,
    MAX_PART_NUMBER,
    MAX_PART_SIZE,
    ChecksumMismatch,
    InvalidPart,
    MiB,
    ObjectInfo,
    ObjectNotFound,
    ObjectStore,
    PresignedRequest,
    StorageError,
    StorageSettings,
    StorageUnavailable,
    UploadedPart,
    UploadNotFound,
    base64_to_sha256,
    check_part_number,
    check_range,
    check_sha256,
    content_disposition,
    expiry_seconds,
    is_sha256,
    sha256_to_base64,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.literals import BucketLocationConstraintType
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef, HeadObjectOutputTypeDef

_NOT_FOUND = {"NoSuchKey", "404", "NotFound"}
_BAD_CHECKSUM = {
    "BadDigest",
    "InvalidDigest",
    "XAmzContentChecksumMismatch",
    "XAmzContentSHA256Mismatch",
}
_BAD_PARTS = {"EntityTooSmall", "EntityTooLarge", "InvalidPart", "InvalidPartOrder"}
_OVERLOADED = {"SlowDown", "ServiceUnavailable", "RequestTimeout", "InternalError"}
# CopyObject stops at 5 GiB; s3transfer switches to a multipart copy from there on.
_COPY_CONFIG = TransferConfig(multipart_threshold=MAX_PART_SIZE, multipart_chunksize=512 * MiB)


def create_s3_client(settings: StorageSettings) -> "S3Client":
    config = Config(
        signature_version="s3v4",
        retries={"mode": "standard", "max_attempts": settings.s3_max_attempts},
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        s3={"addressing_style": settings.s3_addressing_style},
        # botocore's default adds CRC checksums to every upload, which several
        # S3-compatible stores reject; we send SHA256 checksums where we want them.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    secret = settings.s3_secret_access_key
    # A session of its own: boto3's default session is not safe to share across threads.
    return boto3.session.Session().client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        region_name=settings.s3_region,
        aws_access_key_id=settings.s3_access_key_id,
        aws_secret_access_key=secret.get_secret_value() if secret else None,
        config=config,
    )


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@contextmanager
def _translated_errors(key: str | None = None, upload_id: str | None = None) -> Iterator[None]:
    try:
        yield
    except ClientError as exc:
        code = _error_code(exc)
        message = f"{code}: {exc.response.get('Error', {}).get('Message', '')} (key {key!r})"
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        if code == "NoSuchUpload":
            raise UploadNotFound(f"no upload {upload_id!r} for key {key!r}") from exc
        if code in _NOT_FOUND:
            raise ObjectNotFound(f"no object {key!r}") from exc
        if code in _BAD_CHECKSUM:
            raise ChecksumMismatch(message) from exc
        if code in _BAD_PARTS:
            raise InvalidPart(message) from exc
        if code == "NoSuchBucket" or code in _OVERLOADED or status >= 500:
            raise StorageUnavailable(message) from exc
        raise StorageError(message) from exc
    except (BotoConnectionError, HTTPClientError) as exc:
        raise StorageUnavailable(str(exc)) from exc
    except BotoCoreError as exc:
        raise StorageError(str(exc)) from exc


def _read_up_to(stream: BinaryIO, size: int) -> bytes:
    buffer = bytearray()
    while len(buffer) < size and (chunk := stream.read(size - len(buffer))):
        buffer += chunk
    return bytes(buffer)


def _split_parts(first: bytes, rest: BinaryIO, part_size: int) -> Iterator[bytes]:
    view = memoryview(first)
    offset = 0
    while len(view) - offset >= part_size:
        yield bytes(view[offset : offset + part_size])
        offset += part_size
    carry = bytes(view[offset:])
    while part := carry + _read_up_to(rest, part_size - len(carry)):
        carry = b""
        yield part


def _recorded_sha256(response: "HeadObjectOutputTypeDef") -> str | None:
    recorded = response.get("Metadata", {}).get("sha256")
    if recorded and is_sha256(recorded):
        return recorded
    checksum = response.get("ChecksumSHA256")
    # A multipart object's checksum covers the part checksums, not the bytes; moto does
    # not label it COMPOSITE, but its ETag still carries the "-<parts>" suffix.
    if (
        checksum
        and response.get("ChecksumType", "FULL_OBJECT") == "FULL_OBJECT"
        and "-" not in response.get("ETag", "")
    ):
        return base64_to_sha256(checksum)
    return None


class S3ObjectStore(ObjectStore):
    def __init__(self, settings: StorageSettings) -> None:
        self._settings = settings
        self._bucket = settings.bucket
        self._client = create_s3_client(settings)

    async def ensure_bucket(self) -> None:
        await asyncio.to_thread(self._ensure_bucket)

    def _ensure_bucket(self) -> None:
        with _translated_errors():
            try:
                self._client.head_bucket(Bucket=self._bucket)
                return
            except ClientError as exc:
                if _error_code(exc) not in _NOT_FOUND | {"NoSuchBucket"}:
                    raise
            region = self._settings.s3_region
            try:
                if region == "us-east-1":
                    self._client.create_bucket(Bucket=self._bucket)
                else:
                    self._client.create_bucket(
                        Bucket=self._bucket,
                        CreateBucketConfiguration={
                            "LocationConstraint": cast("BucketLocationConstraintType", region)
                        },
                    )
            except ClientError as exc:
                if _error_code(exc) != "BucketAlreadyOwnedByYou":
                    raise

    async def check(self) -> None:
        await asyncio.to_thread(self._check)

    def _check(self) -> None:
        try:
            with _translated_errors():
                self._client.head_bucket(Bucket=self._bucket)
        except StorageError as exc:
            raise StorageUnavailable(f"bucket {self._bucket!r} is not usable: {exc}") from exc

    async def put(
        self, key: str, data: bytes | BinaryIO, *, content_type: str = DEFAULT_CONTENT_TYPE
    ) -> ObjectInfo:
        validate_key(key)
        return await asyncio.to_thread(self._put, key, data, content_type)

    def _put(self, key: str, data: bytes | BinaryIO, content_type: str) -> ObjectInfo:
        stream = io.BytesIO(data) if isinstance(data, bytes) else data
        threshold = self._settings.multipart_threshold
        first = _read_up_to(stream, threshold + 1)
        if len(first) <= threshold:
            sha256 = hashlib.sha256(first).hexdigest()
            with _translated_errors(key):
                response = self._client.put_object(
                    Bucket=self._bucket,
                    Key=key,
                    Body=first,
                    ContentType=content_type,
                    Metadata={"sha256": sha256},
                    ChecksumAlgorithm="SHA256",
                    ChecksumSHA256=sha256_to_base64(sha256),
                )
            return ObjectInfo(key, len(first), sha256, content_type, response["ETag"])

        # Whole bytes can be hashed up front and labelled at creation; a stream is
        # hashed on the way and labelled by a server-side copy afterwards.
        known = hashlib.sha256(data).hexdigest() if isinstance(data, bytes) else None
        upload_id = self._create_multipart(key, content_type, known)
        hasher = hashlib.sha256()
        try:
            parts: list[UploadedPart] = []
            for number, chunk in enumerate(
                _split_parts(first, stream, self._settings.part_size), start=1
            ):
                if number > MAX_PART_NUMBER:
                    raise StorageError(
                        f"{key!r} needs more than {MAX_PART_NUMBER} parts; raise part_size"
                    )
                if known is None:
                    hasher.update(chunk)
                parts.append(self._upload_part(key, upload_id, number, chunk))
            etag = self._complete(key, upload_id, parts)
        except BaseException:
            with suppress(StorageError):
                self._abort(key, upload_id)
            raise
        if known is None:
            self._record_sha256(key, hasher.hexdigest(), etag)
        return self._head(key)

    async def head(self, key: str) -> ObjectInfo:
        validate_key(key)
        return await asyncio.to_thread(self._head, key)

    def _head(self, key: str) -> ObjectInfo:
        with _translated_errors(key):
            response = self._client.head_object(
                Bucket=self._bucket, Key=key, ChecksumMode="ENABLED"
            )
        return ObjectInfo(
            key=key,
            size=response["ContentLength"],
            sha256=_recorded_sha256(response),
            content_type=response.get("ContentType"),
            etag=response.get("ETag"),
        )

    async def stream(
        self, key: str, *, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        validate_key(key)
        check_range(start, end)
        body = await asyncio.to_thread(self._open, key, start, end)
        if body is None:
            return
        try:
            while chunk := await asyncio.to_thread(body.read, CHUNK_SIZE):
                yield chunk
        finally:
            body.close()

    def _open(self, key: str, start: int, end: int | None) -> StreamingBody | None:
        if end == start:
            self._head(key)
            return None
        kwargs: dict[str, Any] = {}
        if start or end is not None:
            kwargs["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        with _translated_errors(key):
            try:
                return self._client.get_object(Bucket=self._bucket, Key=key, **kwargs)["Body"]
            except ClientError as exc:
                # A range starting at or past the end is simply empty, as in slicing.
                if _error_code(exc) == "InvalidRange":
                    return None
                raise

    async def get(self, key: str) -> bytes:
        validate_key(key)
        return await asyncio.to_thread(self._get, key)

    def _get(self, key: str) -> bytes:
        with _translated_errors(key):
            return self._client.get_object(Bucket=self._bucket, Key=key)["Body"].read()

    async def delete(self, key: str) -> None:
        validate_key(key)
        await asyncio.to_thread(self._delete, key)

    def _delete(self, key: str) -> None:
        with _translated_errors(key):
            self._client.delete_object(Bucket=self._bucket, Key=key)

    async def compute_sha256(self, key: str) -> str:
        validate_key(key)
        return await asyncio.to_thread(self._hash_object, key, None)

    def _hash_object(self, key: str, if_match: str | None) -> str:
        kwargs: dict[str, Any] = {"IfMatch": if_match} if if_match else {}
        hasher = hashlib.sha256()
        with _translated_errors(key):
            body = self._client.get_object(Bucket=self._bucket, Key=key, **kwargs)["Body"]
            try:
                for chunk in body.iter_chunks(CHUNK_SIZE):
                    hasher.update(chunk)
            finally:
                body.close()
        return hasher.hexdigest()

    def _record_sha256(self, key: str, sha256: str, etag: str) -> None:
        current = self._head(key)
        # IfMatch keeps the label on the bytes that were hashed should a writer race us.
        with _translated_errors(key):
            self._client.copy(
                CopySource={"Bucket": self._bucket, "Key": key},
                Bucket=self._bucket,
                Key=key,
                ExtraArgs={
                    "CopySourceIfMatch": etag,
                    "MetadataDirective": "REPLACE",
                    "Metadata": {"sha256": sha256},
                    "ContentType": current.content_type or DEFAULT_CONTENT_TYPE,
                    "ChecksumAlgorithm": "SHA256",
                },
                Config=_COPY_CONFIG,
            )

    async def create_multipart(self, key: str, *, content_type: str = DEFAULT_CONTENT_TYPE) -> str:
        validate_key(key)
        return await asyncio.to_thread(self._create_multipart, key, content_type, None)

    def _create_multipart(self, key: str, content_type: str, sha256: str | None) -> str:
        with _translated_errors(key):
            response = self._client.create_multipart_upload(
                Bucket=self._bucket,
                Key=key,
                ContentType=content_type,
                Metadata={"sha256": sha256} if sha256 else {},
                ChecksumAlgorithm="SHA256",
            )
        return response["UploadId"]

    async def upload_part(
        self, key: str, upload_id: str, part_number: int, data: bytes
    ) -> UploadedPart:
        validate_key(key)
        check_part_number(part_number)
        return await asyncio.to_thread(self._upload_part, key, upload_id, part_number, data)

    def _upload_part(self, key: str, upload_id: str, part_number: int, data: bytes) -> UploadedPart:
        sha256 = hashlib.sha256(data).hexdigest()
        with _translated_errors(key, upload_id):
            response = self._client.upload_part(
                Bucket=self._bucket,
                Key=key,
                UploadId=upload_id,
                PartNumber=part_number,
                Body=data,
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=sha256_to_base64(sha256),
            )
        return UploadedPart(part_number, len(data), sha256, response["ETag"])

    async def list_parts(self, key: str, upload_id: str) -> list[UploadedPart]:
        validate_key(key)
        return await asyncio.to_thread(self._list_parts, key, upload_id)

    def _list_parts(self, key: str, upload_id: str) -> list[UploadedPart]:
        parts = []
        with _translated_errors(key, upload_id):
            pages = self._client.get_paginator("list_parts").paginate(
                Bucket=self._bucket, Key=key, UploadId=upload_id
            )
            for page in pages:
                for part in page.get("Parts", []):
                    checksum = part.get("ChecksumSHA256")
                    parts.append(
                        UploadedPart(
                            part_number=part["PartNumber"],
                            size=part["Size"],
                            sha256=base64_to_sha256(checksum) if checksum else None,
                            etag=part["ETag"],
                        )
                    )
        return parts

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
            self._complete_and_record, key, upload_id, list(parts), sha256
        )

    def _complete_and_record(
        self, key: str, upload_id: str, parts: list[UploadedPart], expected: str | None
    ) -> ObjectInfo:
        etag = self._complete(key, upload_id, parts)
        actual = self._hash_object(key, etag)
        if expected is not None and actual != expected:
            self._delete(key)
            raise ChecksumMismatch(f"{key!r}: the parts hash to {actual}, not {expected}")
        self._record_sha256(key, actual, etag)
        return self._head(key)

    def _complete(self, key: str, upload_id: str, parts: list[UploadedPart]) -> str:
        if not parts:
            raise InvalidPart("an upload needs at least one part")
        completed: list[CompletedPartTypeDef] = []
        for part in parts:
            entry: CompletedPartTypeDef = {"PartNumber": part.part_number, "ETag": part.etag}
            if part.sha256:
                entry["ChecksumSHA256"] = sha256_to_base64(part.sha256)
            completed.append(entry)
        with _translated_errors(key, upload_id):
            response = self._client.complete_multipart_upload(
                Bucket=self._bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": completed},
            )
        return response["ETag"]

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        validate_key(key)
        await asyncio.to_thread(self._abort, key, upload_id)

    def _abort(self, key: str, upload_id: str) -> None:
        with suppress(UploadNotFound), _translated_errors(key, upload_id):
            self._client.abort_multipart_upload(Bucket=self._bucket, Key=key, UploadId=upload_id)

    async def presign_get(
        self, key: str, *, expires_in: timedelta, filename: str | None = None
    ) -> str:
        validate_key(key)
        params: dict[str, Any] = {"Bucket": self._bucket, "Key": key}
        if filename is not None:
            params["ResponseContentDisposition"] = content_disposition(filename)
        return await self._presign("get_object", params, expiry_seconds(expires_in))

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
        seconds = expiry_seconds(expires_in)
        params: dict[str, Any] = {"Bucket": self._bucket, "Key": key}
        headers: dict[str, str] = {}
        if content_length is not None:
            params["ContentLength"] = content_length
            headers["Content-Length"] = str(content_length)
        if content_type is not None:
            params["ContentType"] = content_type
            headers["Content-Type"] = content_type
        if sha256 is not None:
            # The checksum makes S3 refuse other bytes; the metadata is what head reads
            # back, since a presigned PUT leaves some servers without a stored checksum.
            params["ChecksumSHA256"] = sha256_to_base64(sha256)
            params["Metadata"] = {"sha256": sha256}
            headers["x-amz-checksum-sha256"] = params["ChecksumSHA256"]
            headers["x-amz-meta-sha256"] = sha256
        url = await self._presign("put_object", params, seconds)
        return PresignedRequest("PUT", url, headers, _expires_at(seconds))

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
        seconds = expiry_seconds(expires_in)
        checksum = sha256_to_base64(sha256)
        params = {
            "Bucket": self._bucket,
            "Key": key,
            "UploadId": upload_id,
            "PartNumber": part_number,
            "ChecksumSHA256": checksum,
        }
        url = await self._presign("upload_part", params, seconds)
        return PresignedRequest(
            "PUT", url, {"x-amz-checksum-sha256": checksum}, _expires_at(seconds)
        )

    async def _presign(self, method: str, params: dict[str, Any], seconds: int) -> str:
        # Off the loop: presigning may refresh credentials over the network.
        with _translated_errors(params.get("Key")):
            return await asyncio.to_thread(
                self._client.generate_presigned_url, method, Params=params, ExpiresIn=seconds
            )

    async def close(self) -> None:
        await asyncio.to_thread(self._client.close)


def _expires_at(seconds: int) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)
