"""No transaction stays open while the catalogue waits on the object store.

On the embedded default (SQLite) every transaction holds the database's write lock, so a
request waiting on a slow store inside one would hold up every other write. Here the store
holds a call until released, and another creator's write must go through meanwhile."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from services.catalogue.app import create_app
from services.catalogue.config import Settings
from services.catalogue.storage import Storage
from services.contracts.roles import Role
from services.kit.migrations import upgrade
from services.stack import SERVICES
from storage import ObjectInfo, StorageSettings, UploadedPart
from storage.keys import work_version_key
from storage.local import LocalObjectStore
from storage.object_store import DEFAULT_CONTENT_TYPE, MiB
from tests.fixtures.internal_keys import key_settings
from tests.services.catalogue.helpers import Actor, Api, work_payload

MIGRATIONS = next(c for c in SERVICES if c.name == "catalogue").migrations
INES = Actor(str(uuid.uuid4()), frozenset({Role.CREATOR}), "Ines Creator")
OMAR = Actor(str(uuid.uuid4()), frozenset({Role.CREATOR}), "Omar")
LARGE = 7 * MiB
# A request, made when called.
Call = Callable[[], Coroutine[Any, Any, Any]]


class HeldStore(LocalObjectStore):
    """A local store whose calls wait, once `holding`, until `released`: a slow store."""

    def __init__(self, settings: StorageSettings) -> None:
        super().__init__(settings)
        self.holding = False
        self.entered = asyncio.Event()
        self.released = asyncio.Event()

    async def _hold(self) -> None:
        if self.holding:
            self.entered.set()
            await self.released.wait()

    async def head(self, key: str) -> ObjectInfo:
        await self._hold()
        return await super().head(key)

    async def create_multipart(self, key: str, *, content_type: str = DEFAULT_CONTENT_TYPE) -> str:
        await self._hold()
        return await super().create_multipart(key, content_type=content_type)

    async def list_parts(self, key: str, upload_id: str) -> list[UploadedPart]:
        await self._hold()
        return await super().list_parts(key, upload_id)


@pytest.fixture
async def held(tmp_path: Path) -> AsyncIterator[tuple[Api, HeldStore]]:
    assert MIGRATIONS is not None
    url = f"sqlite+aiosqlite:///{tmp_path}/catalogue.db"
    await asyncio.to_thread(upgrade, MIGRATIONS, url, None)
    settings = Settings.model_validate({"database_url": url, **key_settings("catalogue")})
    storage = StorageSettings(
        backend="local",
        local_root=tmp_path / "objects",
        signing_secret=SecretStr("s" * 48),
        part_size=5 * MiB,
        multipart_threshold=6 * MiB,
    )
    app: FastAPI = create_app(settings, storage)
    store = HeldStore(storage)
    await store.ensure_bucket()
    app.state.catalogue_storage = Storage(store, storage)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://catalogue.internal"
    ) as http:
        yield Api(http), store
    await app.state.http.aclose()
    await app.state.engine.dispose()


async def complete(api: Api, store: HeldStore) -> Call:
    data = b"the estuary at dusk"
    created = await api.create_work(INES, data)
    upload = created["upload"]
    await store.put(work_version_key(upload["work_id"], upload["version_id"]), data)
    return lambda: api.complete(INES, upload["work_id"])


async def create_large(api: Api, _store: HeldStore) -> Call:
    payload = work_payload(b"", size=LARGE, sha256="0" * 64)
    return lambda: api.ok(INES, "POST", "/v1/works", json=payload, status=201)


async def upload_target(api: Api, _store: HeldStore) -> Call:
    created = await api.ok(
        INES, "POST", "/v1/works", json=work_payload(b"", size=LARGE, sha256="0" * 64), status=201
    )
    return lambda: api.ok(INES, "GET", f"/v1/works/{created['work']['id']}/upload")


@pytest.mark.parametrize("slow_call", [complete, create_large, upload_target])
async def test_other_writes_go_through_while_the_store_is_slow(
    held: tuple[Api, HeldStore],
    slow_call: Callable[[Api, HeldStore], Awaitable[Call]],
) -> None:
    api, store = held
    call = await slow_call(api, store)
    store.holding = True
    waiting = asyncio.create_task(call())
    await store.entered.wait()

    # While the first request waits on the store, another creator lists a work.
    listed = await api.call(OMAR, "POST", "/v1/works", json=work_payload(b"a sketch"))

    store.released.set()
    assert listed.status_code == 201, listed.text
    await waiting
