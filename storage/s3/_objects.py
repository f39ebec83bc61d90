"""The bucket and its whole objects: single PUTs, reads, hashing, and the sha256 label.

Every method blocks; the store runs them off the event loop.
"""

import hashlib
from typing import TYPE_CHECKING, Any, cast

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError
from botocore.response import StreamingBody

from storage.object_store import (
    CHUNK_SIZE,
    DEFAULT_CONTENT_TYPE,
    MAX_PART_SIZE,
    MiB,
    ObjectInfo,
    StorageError,
    StorageSettings,
    StorageUnavailable,
    base64_to_sha256,
    is_sha256,
    sha256_to_base64,
)
from storage.s3._client import NOT_FOUND, error_code, translated_errors

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.literals import BucketLocationConstraintType
    from mypy_boto3_s3.type_defs import HeadObjectOutputTypeDef

# CopyObject stops at 5 GiB; s3transfer switches to a multipart copy from there on.
_COPY_CONFIG = TransferConfig(multipart_threshold=MAX_PART_SIZE, multipart_chunksize=512 * MiB)


class S3Objects:
    def __init__(self, client: "S3Client", settings: StorageSettings) -> None:
        self._client = client
        self._bucket = settings.bucket
        self._region = settings.s3_region

    def ensure_bucket(self) -> None:
        with translated_errors():
            try:
                self._client.head_bucket(Bucket=self._bucket)
                return
            except ClientError as exc:
                if error_code(exc) not in NOT_FOUND | {"NoSuchBucket"}:
                    raise
            try:
                if self._region == "us-east-1":
                    self._client.create_bucket(Bucket=self._bucket)
                else:
                    self._client.create_bucket(
                        Bucket=self._bucket,
                        CreateBucketConfiguration={
                            "LocationConstraint": cast("BucketLocationConstraintType", self._region)
                        },
                    )
            except ClientError as exc:
                if error_code(exc) != "BucketAlreadyOwnedByYou":
                    raise

    def check(self) -> None:
        try:
            with translated_errors():
                self._client.head_bucket(Bucket=self._bucket)
        except StorageError as exc:
            raise StorageUnavailable(f"bucket {self._bucket!r} is not usable: {exc}") from exc

    def put_whole(self, key: str, data: bytes, content_type: str) -> ObjectInfo:
        """One PUT, labelled with its sha256 and checked against it by the server."""
        sha256 = hashlib.sha256(data).hexdigest()
        with translated_errors(key):
            response = self._client.put_object(
                Bucket=self._bucket,
                Key=key,
                Body=data,
                ContentType=content_type,
                Metadata={"sha256": sha256},
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=sha256_to_base64(sha256),
            )
        return ObjectInfo(key, len(data), sha256, content_type, response["ETag"])

    def head(self, key: str) -> ObjectInfo:
        with translated_errors(key):
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

    def open(self, key: str, start: int, end: int | None) -> StreamingBody | None:
        """The body of bytes [start, end), or None where that range is empty."""
        if end == start:
            self.head(key)
            return None
        kwargs: dict[str, Any] = {}
        if start or end is not None:
            kwargs["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        with translated_errors(key):
            try:
                return self._client.get_object(Bucket=self._bucket, Key=key, **kwargs)["Body"]
            except ClientError as exc:
                # A range starting at or past the end is simply empty, as in slicing.
                if error_code(exc) == "InvalidRange":
                    return None
                raise

    def get(self, key: str) -> bytes:
        with translated_errors(key):
            return self._client.get_object(Bucket=self._bucket, Key=key)["Body"].read()

    def list_page(self, prefix: str, token: str | None) -> tuple[list[str], str | None]:
        """One page of keys (up to 1,000) and the token of the next page, if any."""
        kwargs: dict[str, Any] = {"ContinuationToken": token} if token else {}
        with translated_errors():
            page = self._client.list_objects_v2(Bucket=self._bucket, Prefix=prefix, **kwargs)
        keys = [item["Key"] for item in page.get("Contents", []) if "Key" in item]
        return keys, page.get("NextContinuationToken") if page.get("IsTruncated") else None

    def delete(self, key: str) -> None:
        with translated_errors(key):
            self._client.delete_object(Bucket=self._bucket, Key=key)

    def compute_sha256(self, key: str, if_match: str | None = None) -> str:
        kwargs: dict[str, Any] = {"IfMatch": if_match} if if_match else {}
        hasher = hashlib.sha256()
        with translated_errors(key):
            body = self._client.get_object(Bucket=self._bucket, Key=key, **kwargs)["Body"]
            try:
                for chunk in body.iter_chunks(CHUNK_SIZE):
                    hasher.update(chunk)
            finally:
                body.close()
        return hasher.hexdigest()

    def record_sha256(self, key: str, sha256: str, etag: str) -> None:
        """Label the object with its sha256 by copying it onto itself."""
        current = self.head(key)
        # IfMatch keeps the label on the bytes that were hashed should a writer race us.
        with translated_errors(key):
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
