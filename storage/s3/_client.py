"""The one S3 client factory, and how botocore's errors become the store's."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from storage.object_store import (
    ChecksumMismatch,
    InvalidPart,
    ObjectNotFound,
    StorageError,
    StorageSettings,
    StorageUnavailable,
    UploadNotFound,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

NOT_FOUND = {"NoSuchKey", "404", "NotFound"}
_BAD_CHECKSUM = {
    "BadDigest",
    "InvalidDigest",
    "XAmzContentChecksumMismatch",
    "XAmzContentSHA256Mismatch",
}
_BAD_PARTS = {"EntityTooSmall", "EntityTooLarge", "InvalidPart", "InvalidPartOrder"}
_OVERLOADED = {"SlowDown", "ServiceUnavailable", "RequestTimeout", "InternalError"}


def create_s3_client(settings: StorageSettings, *, endpoint_url: str | None = None) -> "S3Client":
    """A client of the store at `endpoint_url`, by default the settings' endpoint."""
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
        endpoint_url=endpoint_url or settings.s3_endpoint_url,
        region_name=settings.s3_region,
        aws_access_key_id=settings.s3_access_key_id,
        aws_secret_access_key=secret.get_secret_value() if secret else None,
        config=config,
    )


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@contextmanager
def translated_errors(key: str | None = None, upload_id: str | None = None) -> Iterator[None]:
    try:
        yield
    except ClientError as exc:
        code = error_code(exc)
        message = f"{code}: {exc.response.get('Error', {}).get('Message', '')} (key {key!r})"
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        if code == "NoSuchUpload":
            raise UploadNotFound(f"no upload {upload_id!r} for key {key!r}") from exc
        if code in NOT_FOUND:
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
