"""The embedded default: the audit log on SQLite with the local object store."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from services.audit.app import create_app
from services.audit.sequencer import Sequencer
from services.contracts.signing import Envelope
from services.kit.migrations import upgrade
from services.stack import SERVICES
from storage import ObjectStore, StorageSettings
from tests.services.audit.conftest import audit_settings
from tests.services.audit.helpers import (
    AuditApi,
    consent,
    delivery,
    download,
    grant,
    verified_checkpoint,
    verify_chain,
    verify_extends,
)
from tests.services.catalogue.helpers import Actor

MIGRATIONS = next(c for c in SERVICES if c.name == "audit").migrations


@pytest.fixture
async def sqlite_app(tmp_path: Path) -> AsyncIterator[FastAPI]:
    assert MIGRATIONS is not None
    url = f"sqlite+aiosqlite:///{tmp_path}/audit.db"
    await asyncio.to_thread(upgrade, MIGRATIONS, url, None)
    storage = StorageSettings(
        backend="local", local_root=tmp_path / "objects", signing_secret=SecretStr("s" * 48)
    )
    app = create_app(audit_settings(url, database_schema=None), storage)
    await app.state.object_store.ensure_bucket()
    yield app
    await app.state.http.aclose()
    await app.state.engine.dispose()


async def test_the_log_signs_proves_and_publishes_on_sqlite_and_local_storage(
    sqlite_app: FastAPI, ines: Actor, lab: Actor, auditor: Actor
) -> None:
    work, licence = uuid.uuid4(), uuid.uuid4()
    sequencer: Sequencer = sqlite_app.state.sequencer
    store: ObjectStore = sqlite_app.state.object_store
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sqlite_app), base_url="http://audit.internal"
    ) as http:
        audit = AuditApi(http)
        keys = await audit.keys(auditor)
        await audit.post(consent(work, ines), grant(licence, lab, [work]))
        first = await sequencer.run_once()
        await audit.post(delivery(licence, lab), download(licence, lab, work))
        second = await sequencer.run_once()

        # After the marker entry at 0, where links begin; each checkpoint ends with its
        # heads leaf (at 3, then 6).
        assert (first.signed, second.signed) == ([4], [7])
        read = await audit.checkpoint(auditor, consistent_with=4)
        old = verified_checkpoint((await audit.checkpoint(auditor, tree_size=4)).checkpoint, keys)
        assert read.consistency is not None
        verify_extends(old, verified_checkpoint(read.checkpoint, keys), read.consistency.hashes)
        published = await store.get(read.checkpoint.object_key)
        assert Envelope.model_validate_json(published) == read.checkpoint.envelope

        chain = await audit.licence_chain(lab, licence)
        assert [entry.index for entry in chain.entries] == [1, 2, 4, 5]
        verify_chain(chain, keys)
        verify_chain(await audit.work_chain(ines, work), keys)
