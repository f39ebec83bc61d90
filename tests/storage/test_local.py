"""Local-backend behaviour that moto cannot show: signed-URL checks and atomic writes."""

import email.policy
import errno
import hashlib
import io
import os
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from email.parser import BytesParser
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from storage import (
    ObjectNotFound,
    StorageError,
    StorageSettings,
    StorageUnavailable,
    UploadNotFound,
)
from storage.local import LocalObjectStore
from storage.local_server import create_app
from tests.fixtures.storage import LocalObjectServer

EXPIRY = timedelta(minutes=10)
DATA = b"0123456789abcdefghij"


def new_key(name: str = "object.bin") -> str:
    return f"tests/{uuid.uuid4().hex}/{name}"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def settings(local_object_server: LocalObjectServer) -> StorageSettings:
    return local_object_server.settings


@pytest.fixture
def store(settings: StorageSettings) -> LocalObjectStore:
    return LocalObjectStore(settings)


def replace_query(url: str, name: str, value: str) -> str:
    parsed = httpx.URL(url)
    return str(parsed.copy_set_param(name, value))


async def test_healthz_answers(local_object_server: LocalObjectServer) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{local_object_server.url}/healthz")

    assert response.json() == {"status": "ok"}


async def test_an_expired_url_is_refused(
    settings: StorageSettings, store: LocalObjectStore
) -> None:
    key = new_key()
    await store.put(key, DATA)
    an_hour_ago = LocalObjectStore(settings, clock=lambda: time.time() - 3600)
    get_url = await an_hour_ago.presign_get(key, expires_in=EXPIRY)
    put = await an_hour_ago.presign_put(new_key(), expires_in=EXPIRY)

    async with httpx.AsyncClient() as client:
        got = await client.get(get_url)
        stored = await client.put(put.url, content=DATA)

    assert (got.status_code, got.json()["error"]) == (403, "UrlExpired")
    assert (stored.status_code, stored.json()["error"]) == (403, "UrlExpired")


@pytest.mark.parametrize(
    "tamper",
    [
        lambda url: replace_query(url, "sig", "0" * 64),
        lambda url: replace_query(url, "exp", str(int(time.time()) + 10**6)),
        lambda url: replace_query(url, "filename", "renamed.bin"),
        lambda url: url.replace("/o/tests/", "/o/Tests/", 1),
        lambda url: url.replace("sig=", "sig=1", 1),
        lambda url: url + "&exp=1",
    ],
    ids=["signature", "expiry", "added-parameter", "path", "signature-prefix", "repeated"],
)
async def test_a_tampered_url_is_refused(
    store: LocalObjectStore, tamper: Callable[[str], str]
) -> None:
    key = new_key()
    await store.put(key, DATA)
    url = await store.presign_get(key, expires_in=EXPIRY)

    async with httpx.AsyncClient() as client:
        genuine = await client.get(url)
        response = await client.get(tamper(url))

    assert genuine.status_code == 200
    assert (response.status_code, response.json()["error"]) == (403, "SignatureInvalid")


async def test_a_url_cannot_be_reaimed_at_another_object_or_method(store: LocalObjectStore) -> None:
    mine, theirs = new_key("mine"), new_key("theirs")
    await store.put(mine, b"mine")
    await store.put(theirs, b"theirs")
    url = await store.presign_get(mine, expires_in=EXPIRY)

    async with httpx.AsyncClient() as client:
        other_object = await client.get(url.replace(mine, theirs))
        overwrite = await client.put(url, content=b"overwritten")

    assert (other_object.status_code, other_object.json()["error"]) == (403, "SignatureInvalid")
    assert (overwrite.status_code, overwrite.json()["error"]) == (403, "SignatureInvalid")
    assert await store.get(mine) == b"mine"


async def test_a_put_with_the_wrong_sha256_stores_nothing(store: LocalObjectStore) -> None:
    key = new_key()
    request = await store.presign_put(key, expires_in=EXPIRY, sha256=sha256(DATA))

    async with httpx.AsyncClient() as client:
        response = await client.put(request.url, headers=request.headers, content=b"not the data")

    assert (response.status_code, response.json()["error"]) == (400, "ChecksumMismatch")
    with pytest.raises(ObjectNotFound):
        await store.head(key)


async def test_a_put_of_another_length_stores_nothing(store: LocalObjectStore) -> None:
    key = new_key()
    request = await store.presign_put(key, expires_in=EXPIRY, content_length=len(DATA))

    async with httpx.AsyncClient() as client:
        response = await client.put(request.url, content=DATA + b"extra")

    assert (response.status_code, response.json()["error"]) == (400, "SizeMismatch")
    with pytest.raises(ObjectNotFound):
        await store.head(key)


async def test_a_part_with_the_wrong_sha256_is_not_listed(store: LocalObjectStore) -> None:
    key = new_key()
    upload_id = await store.create_multipart(key)
    request = await store.presign_upload_part(
        key, upload_id, 1, expires_in=EXPIRY, sha256=sha256(DATA)
    )

    async with httpx.AsyncClient() as client:
        response = await client.put(request.url, headers=request.headers, content=b"corrupted")

    assert (response.status_code, response.json()["error"]) == (400, "ChecksumMismatch")
    assert await store.list_parts(key, upload_id) == []


async def test_a_part_for_an_aborted_upload_is_refused(store: LocalObjectStore) -> None:
    # moto answers this with a 500, so the contract suite cannot hold S3 to it.
    key = new_key()
    upload_id = await store.create_multipart(key)
    request = await store.presign_upload_part(
        key, upload_id, 1, expires_in=EXPIRY, sha256=sha256(DATA)
    )
    await store.abort_multipart(key, upload_id)

    async with httpx.AsyncClient() as client:
        response = await client.put(request.url, headers=request.headers, content=DATA)

    assert (response.status_code, response.json()["error"]) == (404, "UploadNotFound")
    with pytest.raises(UploadNotFound):
        await store.upload_part(key, upload_id, 2, DATA)


class BrokenStream(io.BytesIO):
    """Gives up after ``limit`` bytes, like a client whose connection drops."""

    def __init__(self, data: bytes, limit: int) -> None:
        super().__init__(data)
        self.limit = limit

    def read(self, size: int | None = -1) -> bytes:
        remaining = self.limit - self.tell()
        if remaining <= 0:
            raise ConnectionResetError("the client went away")
        if size is None or not 0 <= size <= remaining:
            size = remaining
        return super().read(size)


async def test_a_write_that_fails_midway_is_never_visible(
    settings: StorageSettings, store: LocalObjectStore
) -> None:
    key, existing = new_key(), new_key()
    data = os.urandom(3 * 1024 * 1024)
    await store.put(existing, b"the earlier version")

    with pytest.raises(ConnectionResetError):
        await store.put(key, BrokenStream(data, limit=2 * 1024 * 1024))
    with pytest.raises(ConnectionResetError):
        await store.put(existing, BrokenStream(data, limit=2 * 1024 * 1024))

    with pytest.raises(ObjectNotFound):
        await store.head(key)
    assert await store.get(existing) == b"the earlier version"
    assert (await store.head(existing)).sha256 == sha256(b"the earlier version")
    # Nor does the failed write leak disk space.
    assert list((settings.local_root / ".tmp" / settings.bucket).iterdir()) == []


async def test_a_crash_between_sidecar_and_object_never_reports_a_wrong_sha256(
    settings: StorageSettings, store: LocalObjectStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = new_key()
    await store.put(key, b"version one")
    object_path = settings.local_root / settings.bucket / key
    real_replace = os.replace

    def crash_before_the_object(source: str | Path, target: str | Path) -> None:
        if Path(target) == object_path:
            raise OSError(errno.EIO, "the disk went away")
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", crash_before_the_object)
    with pytest.raises(StorageUnavailable):
        await store.put(key, b"version two, never committed")
    monkeypatch.undo()

    head = await store.head(key)
    assert head.sha256 in (None, sha256(b"version one"))
    assert await store.get(key) == b"version one"


async def test_ranges_and_head_requests(store: LocalObjectStore) -> None:
    key = new_key()
    await store.put(key, DATA, content_type="text/plain")
    url = await store.presign_get(key, expires_in=EXPIRY)

    async with httpx.AsyncClient() as client:
        suffix = await client.get(url, headers={"Range": "bytes=-5"})
        open_ended = await client.get(url, headers={"Range": "bytes=15-"})
        past_the_end = await client.get(url, headers={"Range": "bytes=5-100"})
        head = await client.head(url, headers={"Range": "bytes=2-5"})

    assert (suffix.status_code, suffix.content) == (206, DATA[-5:])
    assert suffix.headers["content-range"] == "bytes 15-19/20"
    assert (open_ended.status_code, open_ended.content) == (206, DATA[15:])
    assert (past_the_end.status_code, past_the_end.content) == (206, DATA[5:])
    assert past_the_end.headers["content-range"] == "bytes 5-19/20"
    assert head.status_code == 206
    assert head.content == b""
    assert head.headers["content-length"] == "4"
    assert head.headers["accept-ranges"] == "bytes"
    assert head.headers["content-type"] == "text/plain"
    assert head.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("header", "size"),
    [("bytes=20-", 20), ("bytes=-0", 20), ("bytes=0-", 0), ("bytes=0-1,25-30", 20)],
)
async def test_a_range_beyond_the_object_is_not_satisfiable(
    store: LocalObjectStore, header: str, size: int
) -> None:
    key = new_key()
    await store.put(key, DATA[:size])
    url = await store.presign_get(key, expires_in=EXPIRY)

    async with httpx.AsyncClient() as client:
        response = await client.get(url, headers={"Range": header})

    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{size}"


async def test_several_ranges_come_back_as_multipart_byteranges(store: LocalObjectStore) -> None:
    key = new_key()
    await store.put(key, DATA, content_type="text/plain")
    url = await store.presign_get(key, expires_in=EXPIRY)

    async with httpx.AsyncClient() as client:
        response = await client.get(url, headers={"Range": "bytes=0-1,4-5,-3"})

    assert response.status_code == 206
    assert response.headers["content-type"].startswith("multipart/byteranges; boundary=")
    assert int(response.headers["content-length"]) == len(response.content)
    message = BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {response.headers['content-type']}\r\n\r\n".encode() + response.content
    )
    served = [
        (part["Content-Type"], part["Content-Range"], part.get_payload(decode=True))
        for part in message.iter_parts()
    ]
    assert served == [
        ("text/plain", "bytes 0-1/20", DATA[0:2]),
        ("text/plain", "bytes 4-5/20", DATA[4:6]),
        ("text/plain", "bytes 17-19/20", DATA[17:]),
    ]


async def test_if_range_serves_the_range_only_while_the_object_is_unchanged(
    store: LocalObjectStore,
) -> None:
    key = new_key()
    await store.put(key, DATA)
    url = await store.presign_get(key, expires_in=EXPIRY)
    async with httpx.AsyncClient() as client:
        first = await client.get(url)
        validators = {
            "etag": first.headers["etag"],
            "date": first.headers["last-modified"],
        }
        resumed = {
            name: await client.get(url, headers={"Range": "bytes=10-", "If-Range": value})
            for name, value in validators.items()
        }
        weak = await client.get(
            url, headers={"Range": "bytes=10-", "If-Range": f"W/{validators['etag']}"}
        )
        await store.put(key, DATA.upper())
        stale = await client.get(
            url, headers={"Range": "bytes=10-", "If-Range": validators["etag"]}
        )

    assert [(r.status_code, r.content) for r in resumed.values()] == [(206, DATA[10:])] * 2
    # A weak validator, or one the object no longer matches, gets the whole object.
    assert (weak.status_code, weak.content) == (200, DATA)
    assert (stale.status_code, stale.content) == (200, DATA.upper())
    assert stale.headers["etag"] != validators["etag"]


async def test_a_signed_url_for_a_missing_object_is_not_found(store: LocalObjectStore) -> None:
    url = await store.presign_get(new_key("missing"), expires_in=EXPIRY)

    async with httpx.AsyncClient() as client:
        response = await client.get(url)

    assert response.status_code == 404
    assert response.json()["error"] == "ObjectNotFound"


async def test_nothing_is_signed_without_a_secret(settings: StorageSettings) -> None:
    unsigned = settings.model_copy(update={"signing_secret": SecretStr("")})

    with pytest.raises(StorageError):
        await LocalObjectStore(unsigned).presign_get("works/1", expires_in=EXPIRY)
    with pytest.raises(ValueError, match="SIGNING_SECRET"):
        create_app(unsigned)
