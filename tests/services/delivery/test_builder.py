"""The builder in earnest: transactions that really commit, replicas side by side, a
replica that stalls mid-build with no transaction open, and a service that restarts
with work left over.

These tests commit to the delivery schema, so each removes what it wrote.
"""

import asyncio
import hashlib
import os
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.contracts.catalogue import Use
from services.contracts.events import Topic
from services.delivery.app import create_app
from services.delivery.builder import BuildRuntime, BuildTools, DeliveryBuilder
from services.delivery.grant.service import grant_service
from services.delivery.manifest import DeliveryKeys
from services.delivery.models import Delivery, DeliveryEntry, Licence, LicenceLine
from services.kit.db import create_engine, create_sessionmaker, utcnow
from services.kit.outbox import InboxEvent, OutboxDelivery
from storage import ObjectStore, StorageSettings, create_object_store
from storage.keys import manifest_key
from storage.object_store import ObjectInfo
from tests.services.catalogue.helpers import Actor, Api
from tests.services.delivery.conftest import delivery_settings
from tests.services.delivery.helpers import (
    DeliveryApi,
    licence_granted,
    licence_line,
    outbox_payloads,
)


@pytest.fixture
async def committing(
    migrated_postgres: str,
) -> AsyncIterator[list[async_sessionmaker[AsyncSession]]]:
    """Two connection pools on the delivery schema, as two replicas have."""
    engines = [create_engine(migrated_postgres, schema="delivery", pool_size=2) for _ in range(2)]
    try:
        yield [create_sessionmaker(engine) for engine in engines]
    finally:
        for engine in engines:
            await engine.dispose()


async def purge(
    sessionmaker: async_sessionmaker[AsyncSession],
    licence_ids: Sequence[uuid.UUID],
    event_ids: Sequence[uuid.UUID] = (),
) -> None:
    async with sessionmaker() as session, session.begin():
        deliveries = select(Delivery.id).where(Delivery.licence_id.in_(licence_ids))
        delivery_ids = [str(delivery_id) for delivery_id in await session.scalars(deliveries)]
        await session.execute(
            delete(OutboxDelivery).where(
                OutboxDelivery.payload["delivery_id"].as_string().in_(delivery_ids)
            )
        )
        await session.execute(delete(InboxEvent).where(InboxEvent.event_id.in_(event_ids)))
        for model in (DeliveryEntry, Delivery, LicenceLine):
            await session.execute(delete(model).where(model.licence_id.in_(licence_ids)))
        await session.execute(delete(Licence).where(Licence.id.in_(licence_ids)))


async def status_of(
    sessionmaker: async_sessionmaker[AsyncSession], licence_id: uuid.UUID
) -> tuple[uuid.UUID, str]:
    async with sessionmaker() as session:
        delivery = (
            await session.scalars(select(Delivery).where(Delivery.licence_id == licence_id))
        ).one()
        return delivery.id, delivery.status


class StalledStore:
    """An object store that stops answering when asked whether a file is there, until
    released: the replica calling it hangs mid-build."""

    def __init__(self, store: ObjectStore, monkeypatch: pytest.MonkeyPatch) -> None:
        self.called = asyncio.Event()
        self.released = asyncio.Event()
        head = store.head

        async def stalled_head(key: str) -> ObjectInfo:
            self.called.set()
            await self.released.wait()
            return await head(key)

        monkeypatch.setattr(store, "head", stalled_head)


async def test_replicas_build_each_delivery_once_and_take_over_from_one_that_stalls(
    committing: list[async_sessionmaker[AsyncSession]],
    shared_delivery_app: FastAPI,
    shared_storage_settings: StorageSettings,
    catalogue: Api,
    ines: Actor,
    lab: Actor,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state = shared_delivery_app.state
    keys: DeliveryKeys = state.delivery_keys
    work = await catalogue.listed_work(ines, os.urandom(1_000), Use.TRAINING)
    granted = licence_granted(lab, [licence_line(work)])
    stalling_store = create_object_store(shared_storage_settings)
    stalled = StalledStore(stalling_store, monkeypatch)

    def replica(
        sessionmaker: async_sessionmaker[AsyncSession], store: ObjectStore
    ) -> DeliveryBuilder:
        runtime = BuildRuntime(sessionmaker=sessionmaker, tools=BuildTools(store=store, keys=keys))
        return DeliveryBuilder(
            lambda: runtime, poll_seconds=1, max_backoff_seconds=1, lease_seconds=600
        )

    first_db, second_db = committing
    stalling, healthy = replica(first_db, stalling_store), replica(second_db, state.object_store)
    try:
        async with first_db() as session, session.begin():
            await grant_service.record(session, [granted], watermark=keys.watermark)
        build = asyncio.create_task(stalling.build_next())
        await asyncio.wait_for(stalled.called.wait(), timeout=10)
        delivery_id, status = await status_of(second_db, granted.licence_id)
        assert status == "building"

        # Mid-build, the first replica holds no transaction open: the delivery's row is
        # free to lock at once ...
        async with second_db() as session, session.begin():
            locked = await session.scalar(
                select(Delivery.id).where(Delivery.id == delivery_id).with_for_update(nowait=True)
            )
        assert locked == delivery_id
        # ... yet the other replica leaves the leased delivery alone, rather than build
        # it a second time ...
        assert await healthy.build_pending() == []
        # ... until the lease runs out: then it takes the delivery over.
        async with second_db() as session, session.begin():
            await session.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id)
                .values(next_attempt_at=utcnow() - timedelta(seconds=1))
            )
        assert await healthy.build_pending() == [delivery_id]
        assert (await status_of(second_db, granted.licence_id))[1] == "issued"

        # The first replica, answered at last, neither stores nor issues anything.
        stalled.released.set()
        assert await asyncio.wait_for(build, timeout=10) == delivery_id
        async with second_db() as session:
            issued = await outbox_payloads(session, Topic.DELIVERY_ISSUED)
            stored_sha256 = await session.scalar(
                select(Delivery.manifest_sha256).where(Delivery.id == delivery_id)
            )
        assert [event["delivery_id"] for event in issued].count(str(delivery_id)) == 1
        stored = await state.object_store.get(manifest_key(delivery_id))
        assert hashlib.sha256(stored).hexdigest() == stored_sha256
    finally:
        stalled.released.set()
        await stalling_store.close()
        await purge(second_db, [granted.licence_id])


async def test_a_restarted_service_builds_what_was_left_and_each_new_grant_at_once(
    committing: list[async_sessionmaker[AsyncSession]],
    migrated_postgres: str,
    shared_storage_settings: StorageSettings,
    catalogue: Api,
    ines: Actor,
    lab: Actor,
) -> None:
    # Polling once a minute: only a wake-up after the commit can build within the test.
    settings = delivery_settings(migrated_postgres, build_poll_seconds=60)
    app = create_app(settings, shared_storage_settings)
    keys: DeliveryKeys = app.state.delivery_keys
    works = [await catalogue.listed_work(ines, os.urandom(1_000 + n), Use.TRAINING) for n in (0, 1)]
    left_over, new = (licence_granted(lab, [licence_line(work)]) for work in works)
    event_id = uuid.uuid4()
    database = committing[0]
    try:
        # Granted while no builder ran (the last process stopped first).
        async with database() as session, session.begin():
            await grant_service.record(session, [left_over], watermark=keys.watermark)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://delivery.internal"
            ) as client,
        ):
            await eventually_issued(database, left_over.licence_id)
            await DeliveryApi(client).event(Topic.LICENCE_GRANTED, new, event_id=event_id)
            await eventually_issued(database, new.licence_id)
    finally:
        await purge(database, [left_over.licence_id, new.licence_id], [event_id])
        await app.state.object_store.close()


async def eventually_issued(
    sessionmaker: async_sessionmaker[AsyncSession], licence_id: uuid.UUID
) -> Any:
    for _ in range(200):
        _, status = await status_of(sessionmaker, licence_id)
        if status != "building":
            assert status == "issued"
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the delivery of {licence_id} was not built within 10 s")
