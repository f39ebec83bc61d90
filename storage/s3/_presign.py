"""SigV4 presigned URLs that pin what the client may send. Keys are validated by the caller."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from storage.object_store import (
    PresignedRequest,
    content_disposition,
    expiry_seconds,
    presigned_put_headers,
    sha256_to_base64,
)
from storage.s3._client import translated_errors

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class S3Presigner:
    def __init__(self, client: "S3Client", bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    async def get_url(self, key: str, *, expires_in: timedelta, filename: str | None) -> str:
        params: dict[str, Any] = {"Bucket": self._bucket, "Key": key}
        if filename is not None:
            params["ResponseContentDisposition"] = content_disposition(filename)
        return await self._presign("get_object", params, expiry_seconds(expires_in))

    async def put_request(
        self,
        key: str,
        *,
        expires_in: timedelta,
        content_length: int | None,
        sha256: str | None,
        content_type: str | None,
    ) -> PresignedRequest:
        seconds = expiry_seconds(expires_in)
        params: dict[str, Any] = {"Bucket": self._bucket, "Key": key}
        headers = presigned_put_headers(content_length, content_type)
        if content_length is not None:
            params["ContentLength"] = content_length
        if content_type is not None:
            params["ContentType"] = content_type
        if sha256 is not None:
            # The checksum makes S3 refuse other bytes; the metadata is what head reads
            # back, since a presigned PUT leaves some servers without a stored checksum.
            params["ChecksumSHA256"] = sha256_to_base64(sha256)
            params["Metadata"] = {"sha256": sha256}
            headers["x-amz-checksum-sha256"] = params["ChecksumSHA256"]
            headers["x-amz-meta-sha256"] = sha256
        url = await self._presign("put_object", params, seconds)
        return PresignedRequest("PUT", url, headers, _expires_at(seconds))

    async def part_request(
        self, key: str, upload_id: str, part_number: int, *, expires_in: timedelta, sha256: str
    ) -> PresignedRequest:
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
        with translated_errors(params.get("Key")):
            return await asyncio.to_thread(
                self._client.generate_presigned_url, method, Params=params, ExpiresIn=seconds
            )


def _expires_at(seconds: int) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)
