"""Multipart uploads, and the put that streams a large object through one.

Every method blocks; the store runs them off the event loop.
"""

import hashlib
from collections.abc import Iterator
from contextlib import suppress
from typing import TYPE_CHECKING, BinaryIO

from storage.object_store import (
    MAX_PART_NUMBER,
    ChecksumMismatch,
    InvalidPart,
    ObjectInfo,
    StorageError,
    StorageSettings,
    UploadedPart,
    UploadNotFound,
    base64_to_sha256,
    sha256_to_base64,
)
from storage.s3._client import translated_errors
from storage.s3._objects import S3Objects

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef


class S3Uploads:
    def __init__(self, client: "S3Client", settings: StorageSettings, objects: S3Objects) -> None:
        self._client = client
        self._bucket = settings.bucket
        self._part_size = settings.part_size
        self._objects = objects

    def put_in_parts(
        self, key: str, first: bytes, rest: BinaryIO, content_type: str, known: str | None
    ) -> ObjectInfo:
        """Upload ``first`` then the rest of the stream in parts; ``known`` is the whole
        object's sha256 where it could be computed up front."""
        # Known bytes are labelled at creation; a stream is hashed on the way and
        # labelled by a server-side copy afterwards.
        upload_id = self.create(key, content_type, known)
        hasher = hashlib.sha256()
        try:
            parts: list[UploadedPart] = []
            for number, chunk in enumerate(_split_parts(first, rest, self._part_size), start=1):
                if number > MAX_PART_NUMBER:
                    raise StorageError(
                        f"{key!r} needs more than {MAX_PART_NUMBER} parts; raise part_size"
                    )
                if known is None:
                    hasher.update(chunk)
                parts.append(self.upload_part(key, upload_id, number, chunk))
            etag = self.complete(key, upload_id, parts)
        except BaseException:
            with suppress(StorageError):
                self.abort(key, upload_id)
            raise
        if known is None:
            self._objects.record_sha256(key, hasher.hexdigest(), etag)
        return self._objects.head(key)

    def create(self, key: str, content_type: str, sha256: str | None) -> str:
        with translated_errors(key):
            response = self._client.create_multipart_upload(
                Bucket=self._bucket,
                Key=key,
                ContentType=content_type,
                Metadata={"sha256": sha256} if sha256 else {},
                ChecksumAlgorithm="SHA256",
            )
        return response["UploadId"]

    def upload_part(self, key: str, upload_id: str, part_number: int, data: bytes) -> UploadedPart:
        sha256 = hashlib.sha256(data).hexdigest()
        with translated_errors(key, upload_id):
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

    def list_parts(self, key: str, upload_id: str) -> list[UploadedPart]:
        parts = []
        with translated_errors(key, upload_id):
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

    def complete_and_record(
        self, key: str, upload_id: str, parts: list[UploadedPart], expected: str | None
    ) -> ObjectInfo:
        etag = self.complete(key, upload_id, parts)
        actual = self._objects.compute_sha256(key, etag)
        if expected is not None and actual != expected:
            self._objects.delete(key)
            raise ChecksumMismatch(f"{key!r}: the parts hash to {actual}, not {expected}")
        self._objects.record_sha256(key, actual, etag)
        return self._objects.head(key)

    def complete(self, key: str, upload_id: str, parts: list[UploadedPart]) -> str:
        """Assemble the parts; return the object's ETag."""
        if not parts:
            raise InvalidPart("an upload needs at least one part")
        completed: list[CompletedPartTypeDef] = []
        for part in parts:
            entry: CompletedPartTypeDef = {"PartNumber": part.part_number, "ETag": part.etag}
            if part.sha256:
                entry["ChecksumSHA256"] = sha256_to_base64(part.sha256)
            completed.append(entry)
        with translated_errors(key, upload_id):
            response = self._client.complete_multipart_upload(
                Bucket=self._bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": completed},
            )
        return response["ETag"]

    def abort(self, key: str, upload_id: str) -> None:
        with suppress(UploadNotFound), translated_errors(key, upload_id):
            self._client.abort_multipart_upload(Bucket=self._bucket, Key=key, UploadId=upload_id)


def read_up_to(stream: BinaryIO, size: int) -> bytes:
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
    while part := carry + read_up_to(rest, part_size - len(carry)):
        carry = b""
        yield part
