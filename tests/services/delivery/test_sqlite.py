"""The embedded default: delivery on SQLite with the local object store."""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from services.contracts.catalogue import Use
from services.delivery.app import create_app
from services.delivery.builder import DeliveryBuilder
from services.kit.migrations import upgrade
from services.stack import SERVICES
from storage import ObjectStore, StorageSettings
from storage.keys import work_version_key
from tests.services.catalogue.helpers import Actor, Api
from tests.services.delivery.conftest import delivery_settings
from tests.services.delivery.helpers import DeliveryApi, licence_granted, licence_line

MIGRATIONS = next(c for c in SERVICES if c.name == "delivery").migrations
OBJECT_SERVER = "http://127.0.0.1:8005"


@pytest.fixture
async def sqlite_app(tmp_path: Path) -> AsyncIterator[FastAPI]:
    assert MIGRATIONS is not None
    url = f"sqlite+aiosqlite:///{tmp_path}/delivery.db"
    await asyncio.to_thread(upgrade, MIGRATIONS, url, None)
    storage = StorageSettings(
        backend="local",
        local_root=tmp_path / "objects",
        public_url=OBJECT_SERVER,
        signing_secret=SecretStr("s" * 48),
    )
    app = create_app(delivery_settings(url, database_schema=None), storage)
    await app.state.object_store.ensure_bucket()
    yield app
    await app.state.engine.dispose()


async def test_a_delivery_is_built_signed_and_linked_on_sqlite_and_local_storage(
    sqlite_app: FastAPI, catalogue: Api, ines: Actor, lab: Actor, auditor: Actor
) -> None:
    files = [os.urandom(1_000 + n) for n in range(3)]
    works = [await catalogue.listed_work(ines, data, Use.TRAINING) for data in files]
    # On one machine the catalogue and delivery share the local store.
    store: ObjectStore = sqlite_app.state.object_store
    for work, data in zip(works, files, strict=True):
        version_id = uuid.UUID(work["current_version"]["id"])
        await store.put(work_version_key(uuid.UUID(work["id"]), version_id), data)
    granted = licence_granted(lab, [licence_line(work) for work in works])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sqlite_app), base_url="http://delivery.internal"
    ) as http:
        delivery = DeliveryApi(http)
        await delivery.grant(granted)
        builder: DeliveryBuilder = sqlite_app.state.builder
        assert len(await builder.build_pending()) == 1

        read = await delivery.delivery_of(lab, granted.licence_id)
        assert (read["status"], read["entry_count"]) == ("issued", 3)
        entries = (await delivery.statement(lab, read["id"]))["predicate"]["entries"]
        assert (await delivery.files(lab, read["id"]))["items"] == entries

        # The local store's own signed, expiring URL stands in for S3's presigned one.
        link = await delivery.entitled_link(lab, read["id"], entries[0]["fingerprint"])
        assert link["url"].startswith(f"{OBJECT_SERVER}/")
        assert "sig=" in link["url"]

        traced = await delivery.trace(auditor, "\n".join(e["path"] for e in entries[:1]))
        assert traced["licence_id"] == str(granted.licence_id)
