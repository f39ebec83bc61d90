"""The object-store contract, run against every backend (ids ``s3`` and ``local``)."""

import hashlib
import io
import os
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from storage import (
    ChecksumMismatch,
    InvalidKey,
    InvalidPart,
    ObjectNotFound,
    ObjectStore,
    StorageSettings,
    StorageUnavailable,
    UploadNotFound,
    create_object_store,
)
from storage.object_store import CHUNK_SIZE, MiB
from tests.fixtures.storage import unique_bucket

EXPIRY = timedelta(minutes=10)


def new_key(name: str = "object.bin") -> str:
    return f"tests/{uuid.uuid4().hex}/{name}"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def read_all(store: ObjectStore, key: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join([chunk async for chunk in store.stream(key, start=start, end=end)])


async def test_put_then_head_and_get_agree_on_size_sha256_and_type(
    object_store: ObjectStore,
) -> None:
    key = new_key("artwork.png")
    data = os.urandom(300_000)

    info = await object_store.put(key, data, content_type="image/png")
    head = await object_store.head(key)

    assert (info.key, info.size, info.sha256) == (key, len(data), sha256(data))
    assert (head.size, head.sha256, head.content_type) == (len(data), sha256(data), "image/png")
    assert await object_store.get(key) == data
    assert await object_store.compute_sha256(key) == sha256(data)


@pytest.mark.parametrize("as_stream", [True, False], ids=["stream", "bytes"])
async def test_put_above_the_multipart_threshold(
    object_store: ObjectStore, storage_settings: StorageSettings, as_stream: bool
) -> None:
    key = new_key("film.mp4")
    data = os.urandom(2 * storage_settings.part_size + 4321)
    assert len(data) > storage_settings.multipart_threshold

    info = await object_store.put(
        key, io.BytesIO(data) if as_stream else data, content_type="video/mp4"
    )
    head = await object_store.head(key)

    assert (info.size, info.sha256) == (len(data), sha256(data))
    assert (head.size, head.sha256, head.content_type) == (len(data), sha256(data), "video/mp4")
    assert await object_store.get(key) == data


async def test_an_empty_object_round_trips(object_store: ObjectStore) -> None:
    key = new_key("empty")

    info = await object_store.put(key, b"")

    assert (info.size, info.sha256) == (0, sha256(b""))
    assert (await object_store.head(key)).size == 0
    assert await read_all(object_store, key) == b""


async def test_stream_yields_the_requested_range_in_bounded_chunks(
    object_store: ObjectStore,
) -> None:
    key = new_key()
    data = os.urandom(3 * MiB + 17)
    await object_store.put(key, data)
    size = len(data)

    chunks = [chunk async for chunk in object_store.stream(key)]
    assert b"".join(chunks) == data
    assert max(len(chunk) for chunk in chunks) <= CHUNK_SIZE

    spans = [
        (0, 1),
        (5, 5000),
        (MiB - 1, 2 * MiB + 1),
        (size - 10, None),
        (size - 10, size + 100),
        (7, 7),
        (size, None),
        (size + 5, None),
    ]
    for start, end in spans:
        assert await read_all(object_store, key, start, end) == data[start:end], (start, end)


async def test_put_replaces_an_existing_object(object_store: ObjectStore) -> None:
    key = new_key()
    await object_store.put(key, b"first version")

    await object_store.put(key, b"second, longer version")

    head = await object_store.head(key)
    assert (head.size, head.sha256) == (22, sha256(b"second, longer version"))
    assert await object_store.get(key) == b"second, longer version"


async def test_delete_removes_the_object_and_may_be_repeated(object_store: ObjectStore) -> None:
    key = new_key()
    await object_store.put(key, b"to be withdrawn")

    await object_store.delete(key)
    await object_store.delete(key)

    with pytest.raises(ObjectNotFound):
        await object_store.head(key)
    with pytest.raises(ObjectNotFound):
        await object_store.get(key)


async def test_list_keys_yields_the_objects_under_a_prefix_in_key_order(
    object_store: ObjectStore,
) -> None:
    prefix = f"tests/{uuid.uuid4().hex}/"
    for key in ("b/two", "a/one", "c"):
        await object_store.put(prefix + key, key.encode())
    await object_store.put(f"tests/{uuid.uuid4().hex}/elsewhere", b"not listed")
    # An upload still in progress is not an object yet.
    await object_store.create_multipart(prefix + "d/unfinished")

    listed = [key async for key in object_store.list_keys(prefix=prefix)]

    assert listed == [prefix + "a/one", prefix + "b/two", prefix + "c"]


async def test_reading_a_missing_object_raises_object_not_found(object_store: ObjectStore) -> None:
    key = new_key("never-written")

    with pytest.raises(ObjectNotFound):
        await object_store.head(key)
    with pytest.raises(ObjectNotFound):
        await object_store.get(key)
    with pytest.raises(ObjectNotFound):
        await object_store.compute_sha256(key)
    with pytest.raises(ObjectNotFound):
        await read_all(object_store, key, 3)
    with pytest.raises(ObjectNotFound):
        await read_all(object_store, key, 3, 3)


async def test_multipart_upload_resumes_from_the_listed_parts(object_store: ObjectStore) -> None:
    key = new_key("dataset.zip")
    part_1, part_2, part_3 = os.urandom(5 * MiB), os.urandom(5 * MiB), os.urandom(1000)
    upload_id = await object_store.create_multipart(key, content_type="application/zip")

    first = await object_store.upload_part(key, upload_id, 1, part_1)
    third = await object_store.upload_part(key, upload_id, 3, part_3)
    listed = await object_store.list_parts(key, upload_id)

    assert [(p.part_number, p.size, p.etag) for p in listed] == [
        (1, len(part_1), first.etag),
        (3, len(part_3), third.etag),
    ]
    # moto keeps no part checksums; a backend that reports one must report the right one.
    expected = {1: sha256(part_1), 3: sha256(part_3)}
    assert all(p.sha256 in (None, expected[p.part_number]) for p in listed)
    assert (first.sha256, third.sha256) == (sha256(part_1), sha256(part_3))

    await object_store.upload_part(key, upload_id, 2, part_2)
    resumed = await object_store.list_parts(key, upload_id)
    info = await object_store.complete_multipart(key, upload_id, resumed)

    data = part_1 + part_2 + part_3
    assert [p.part_number for p in resumed] == [1, 2, 3]
    assert (info.size, info.sha256) == (len(data), sha256(data))
    head = await object_store.head(key)
    assert (head.sha256, head.content_type) == (sha256(data), "application/zip")
    assert await object_store.get(key) == data


async def test_completing_with_a_wrong_declared_sha256_leaves_no_object(
    object_store: ObjectStore,
) -> None:
    key = new_key()
    upload_id = await object_store.create_multipart(key)
    part = await object_store.upload_part(key, upload_id, 1, b"the real bytes")

    with pytest.raises(ChecksumMismatch):
        await object_store.complete_multipart(key, upload_id, [part], sha256=sha256(b"other bytes"))

    with pytest.raises(ObjectNotFound):
        await object_store.head(key)


async def test_completing_with_a_small_part_before_the_last_is_refused(
    object_store: ObjectStore,
) -> None:
    key = new_key()
    upload_id = await object_store.create_multipart(key)
    parts = [
        await object_store.upload_part(key, upload_id, 1, b"too small to lead"),
        await object_store.upload_part(key, upload_id, 2, b"last"),
    ]

    with pytest.raises(InvalidPart):
        await object_store.complete_multipart(key, upload_id, parts)

    with pytest.raises(ObjectNotFound):
        await object_store.head(key)
    await object_store.abort_multipart(key, upload_id)


async def test_abort_discards_the_upload_and_may_be_repeated(object_store: ObjectStore) -> None:
    key = new_key()
    upload_id = await object_store.create_multipart(key)
    await object_store.upload_part(key, upload_id, 1, b"abandoned")

    await object_store.abort_multipart(key, upload_id)
    await object_store.abort_multipart(key, upload_id)

    with pytest.raises(UploadNotFound):
        await object_store.list_parts(key, upload_id)
    with pytest.raises(ObjectNotFound):
        await object_store.head(key)


async def test_presigned_get_serves_the_object_and_byte_ranges(object_store: ObjectStore) -> None:
    key = new_key()
    data = os.urandom(100_000)
    await object_store.put(key, data, content_type="text/csv")

    url = await object_store.presign_get(key, expires_in=EXPIRY, filename="données.csv")
    async with httpx.AsyncClient() as client:
        whole = await client.get(url)
        ranged = await client.get(url, headers={"Range": "bytes=10-19"})

    assert whole.status_code == 200
    assert whole.content == data
    assert "filename*=UTF-8''donn%C3%A9es.csv" in whole.headers["content-disposition"]
    assert ranged.status_code == 206
    assert ranged.content == data[10:20]
    assert ranged.headers["content-range"] == f"bytes 10-19/{len(data)}"


async def test_presigned_put_stores_the_object_with_its_sha256(object_store: ObjectStore) -> None:
    key = new_key("upload.txt")
    data = b"uploaded straight to storage by the creator's client"

    request = await object_store.presign_put(
        key,
        expires_in=EXPIRY,
        content_length=len(data),
        sha256=sha256(data),
        content_type="text/plain",
    )
    async with httpx.AsyncClient() as client:
        response = await client.request(
            request.method, request.url, headers=request.headers, content=data
        )

    # Every backend names the same headers, so a client written against one works on both.
    pinned = {"Content-Length": str(len(data)), "Content-Type": "text/plain"}
    assert pinned.items() <= request.headers.items()
    assert response.status_code == 200, response.text
    head = await object_store.head(key)
    assert (head.size, head.sha256, head.content_type) == (len(data), sha256(data), "text/plain")
    assert await object_store.get(key) == data
    assert abs(request.expires_at - (datetime.now(UTC) + EXPIRY)) < timedelta(seconds=5)


async def test_presigned_part_uploads_complete_into_one_object(object_store: ObjectStore) -> None:
    key = new_key("archive.tar")
    chunks = [os.urandom(5 * MiB), os.urandom(2000)]
    upload_id = await object_store.create_multipart(key, content_type="application/x-tar")

    async with httpx.AsyncClient() as client:
        for number, chunk in enumerate(chunks, start=1):
            request = await object_store.presign_upload_part(
                key, upload_id, number, expires_in=EXPIRY, sha256=sha256(chunk)
            )
            response = await client.request(
                request.method, request.url, headers=request.headers, content=chunk
            )
            assert response.status_code == 200, response.text
            assert response.headers["etag"]

    listed = await object_store.list_parts(key, upload_id)
    data = b"".join(chunks)
    info = await object_store.complete_multipart(key, upload_id, listed, sha256=sha256(data))

    assert [(p.part_number, p.size) for p in listed] == [(1, 5 * MiB), (2, 2000)]
    assert (info.size, info.sha256) == (len(data), sha256(data))
    assert await object_store.get(key) == data


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/works/1",
        "works//1",
        "works/1/",
        "works/../secrets",
        "works/./1",
        "works\\1",
        "works/1\x00",
        "works/\n1",
        "w" * 1025,
        "é" * 513,
    ],
)
async def test_invalid_keys_are_rejected(object_store: ObjectStore, key: str) -> None:
    with pytest.raises(InvalidKey):
        await object_store.put(key, b"data")
    with pytest.raises(InvalidKey):
        await object_store.head(key)
    with pytest.raises(InvalidKey):
        await object_store.presign_get(key, expires_in=EXPIRY)


async def test_check_fails_until_the_bucket_exists(storage_settings: StorageSettings) -> None:
    store = create_object_store(storage_settings.model_copy(update={"bucket": unique_bucket()}))
    try:
        with pytest.raises(StorageUnavailable):
            await store.check()

        await store.ensure_bucket()
        await store.ensure_bucket()

        await store.check()
    finally:
        await store.close()
