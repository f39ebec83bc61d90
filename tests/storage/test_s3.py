"""S3-only behaviour: error mapping, what presigned URLs pin, objects written by other tools."""

import hashlib
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import SecretStr

from storage import StorageSettings, StorageUnavailable
from storage.object_store import MiB
from storage.s3 import S3ObjectStore, create_s3_client
from tests.fixtures.storage import free_port

DATA = b"a work licensed for training"
DATA_SHA256 = hashlib.sha256(DATA).hexdigest()


def offline_settings() -> StorageSettings:
    return StorageSettings(
        backend="s3",
        s3_endpoint_url=f"http://127.0.0.1:{free_port()}",
        s3_access_key_id="unused",
        s3_secret_access_key=SecretStr("unused"),
        s3_max_attempts=1,
        connect_timeout=1,
    )


def signed_headers(url: str) -> set[str]:
    return set(parse_qs(urlsplit(url).query)["X-Amz-SignedHeaders"][0].split(";"))


async def test_an_unreachable_endpoint_is_storage_unavailable() -> None:
    store = S3ObjectStore(offline_settings())
    try:
        with pytest.raises(StorageUnavailable):
            await store.check()
        with pytest.raises(StorageUnavailable):
            await store.put("works/1", DATA)
    finally:
        await store.close()


async def test_presigned_put_pins_length_type_and_checksum() -> None:
    store = S3ObjectStore(offline_settings())
    try:
        request = await store.presign_put(
            "works/1",
            expires_in=timedelta(minutes=5),
            content_length=len(DATA),
            sha256=DATA_SHA256,
            content_type="text/plain",
        )
        part = await store.presign_upload_part(
            "works/2", "upload-id", 3, expires_in=timedelta(minutes=5), sha256=DATA_SHA256
        )
    finally:
        await store.close()

    # Every header the client is told to send is covered by the signature, so S3 refuses
    # a body of another length, type or digest.
    assert {name.lower() for name in request.headers} <= signed_headers(request.url)
    assert {"content-length", "x-amz-checksum-sha256", "x-amz-meta-sha256"} <= signed_headers(
        request.url
    )
    assert request.headers["x-amz-meta-sha256"] == DATA_SHA256
    assert "x-amz-checksum-sha256" in signed_headers(part.url)
    assert parse_qs(urlsplit(part.url).query)["partNumber"] == ["3"]


async def test_head_reads_sha256_from_a_full_object_checksum_but_not_a_composite_one(
    s3_settings: StorageSettings,
) -> None:
    store = S3ObjectStore(s3_settings)
    client = create_s3_client(s3_settings)
    bucket = s3_settings.bucket
    try:
        await store.ensure_bucket()
        client.put_object(
            Bucket=bucket, Key="other-tool/single", Body=DATA, ChecksumAlgorithm="SHA256"
        )
        upload = client.create_multipart_upload(
            Bucket=bucket, Key="other-tool/multi", ChecksumAlgorithm="SHA256"
        )
        part = client.upload_part(
            Bucket=bucket,
            Key="other-tool/multi",
            UploadId=upload["UploadId"],
            PartNumber=1,
            Body=b"x" * MiB,
            ChecksumAlgorithm="SHA256",
        )
        client.complete_multipart_upload(
            Bucket=bucket,
            Key="other-tool/multi",
            UploadId=upload["UploadId"],
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
        )

        single = await store.head("other-tool/single")
        multi = await store.head("other-tool/multi")
    finally:
        client.close()
        await store.close()

    assert single.sha256 == DATA_SHA256
    assert multi.sha256 is None
    assert multi.size == MiB


async def test_links_name_the_public_endpoint_while_the_store_talks_to_its_own(
    s3_settings: StorageSettings,
) -> None:
    # The same server by another name, as a browser on the host reaches a compose MinIO
    # at localhost:9000 while the containers reach it as minio:9000.
    internal = urlsplit(s3_settings.s3_endpoint_url or "")
    public = f"http://localhost:{internal.port}"
    store = S3ObjectStore(s3_settings.model_copy(update={"s3_public_endpoint_url": public}))
    try:
        await store.ensure_bucket()
        await store.put("works/1", DATA, content_type="text/plain")
        url = await store.presign_get("works/1", expires_in=timedelta(minutes=5))
        upload = await store.presign_put(
            "works/2",
            expires_in=timedelta(minutes=5),
            content_length=len(DATA),
            sha256=DATA_SHA256,
            content_type="text/plain",
        )
        async with httpx.AsyncClient() as client:
            downloaded = await client.get(url)
            uploaded = await client.put(upload.url, content=DATA, headers=upload.headers)
        stored = await store.get("works/2")
    finally:
        await store.close()

    assert urlsplit(url).netloc == urlsplit(upload.url).netloc == f"localhost:{internal.port}"
    assert downloaded.content == DATA
    assert uploaded.status_code == 200
    assert stored == DATA


async def test_the_store_never_calls_its_public_endpoint(s3_settings: StorageSettings) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    store = S3ObjectStore(s3_settings.model_copy(update={"s3_public_endpoint_url": nowhere}))
    try:
        await store.ensure_bucket()
        await store.put("works/1", DATA)
        read = await store.get("works/1")
        url = await store.presign_get("works/1", expires_in=timedelta(minutes=5))
    finally:
        await store.close()

    assert read == DATA
    assert url.startswith(nowhere + "/")
