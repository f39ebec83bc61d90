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
from storage.keys import work_version_key
from storage.object_store import ObjectNotFound
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
    """An object store that stops answering one kind of call (`head`, whether a file is
    there, unless told otherwise), on every key or `only` one, until released: the
    replica calling it hangs mid-build. `keys` are the keys it stalled on."""

    def __init__(
        self,
        store: ObjectStore,
        monkeypatch: pytest.MonkeyPatch,
        call: str = "head",
        only: str | None = None,
    ) -> None:
        self.called = asyncio.Event()
        self.released = asyncio.Event()
        self.keys: list[str] = []
        answer = getattr(store, call)

        async def stalled(key: str, *args: Any, **options: Any) -> Any:
            if only is not None and key != only:
                return await answer(key, *args, **options)
            self.keys.append(key)
            self.called.set()
            await self.released.wait()
            return await answer(key, *args, **options)

        monkeypatch.setattr(store, call, stalled)


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

    first_db, second_db = committing
    stalling = replica(first_db, BuildTools(store=stalling_store, keys=keys))
    healthy = replica(second_db, BuildTools(store=state.object_store, keys=keys))
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
        await lapse_lease(second_db, delivery_id)
        assert await healthy.build_pending() == [delivery_id]
        assert (await status_of(second_db, granted.licence_id))[1] == "issued"

        # The first replica, answered at last, neither stores nor issues anything.
        stalled.released.set()
        assert await asyncio.wait_for(build, timeout=10) == delivery_id
        async with second_db() as session:
            issued = await outbox_payloads(session, Topic.DELIVERY_ISSUED)
        assert [event["delivery_id"] for event in issued].count(str(delivery_id)) == 1
        stored_key, stored_sha256 = await manifest_of(second_db, delivery_id)
        stored = await state.object_store.get(stored_key)
        assert hashlib.sha256(stored).hexdigest() == stored_sha256
    finally:
        stalled.released.set()
        await stalling_store.close()
        await purge(second_db, [granted.licence_id])


async def test_a_build_whose_lease_lapsed_during_its_upload_leaves_the_issued_manifest_alone(
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
    slow_store = create_object_store(shared_storage_settings)
    slow_upload = StalledStore(slow_store, monkeypatch, call="put")
    first_db, second_db = committing
    slow = replica(first_db, BuildTools(store=slow_store, keys=keys))
    healthy = replica(second_db, BuildTools(store=state.object_store, keys=keys))
    try:
        async with first_db() as session, session.begin():
            await grant_service.record(session, [granted], watermark=keys.watermark)
        build = asyncio.create_task(slow.build_next())
        # The lease was still held when the upload began; it lapses while the upload
        # hangs, and the other replica builds and issues the delivery.
        await asyncio.wait_for(slow_upload.called.wait(), timeout=10)
        delivery_id, _ = await status_of(second_db, granted.licence_id)
        await lapse_lease(second_db, delivery_id)
        assert await healthy.build_pending() == [delivery_id]
        issued_key, issued_sha256 = await manifest_of(second_db, delivery_id)

        # The late upload completes, and the first replica finishes its build.
        slow_upload.released.set()
        assert await asyncio.wait_for(build, timeout=10) == delivery_id

        assert await manifest_of(second_db, delivery_id) == (issued_key, issued_sha256)
        stored = await state.object_store.get(issued_key)
        assert hashlib.sha256(stored).hexdigest() == issued_sha256
        async with second_db() as session:
            issued = await outbox_payloads(session, Topic.DELIVERY_ISSUED)
        [event] = [event for event in issued if event["delivery_id"] == str(delivery_id)]
        assert (event["manifest_key"], event["manifest_sha256"]) == (issued_key, issued_sha256)
        # What the late build uploaded, no delivery points at, and it is not left behind.
        [late_key] = slow_upload.keys
        assert late_key != issued_key
        with pytest.raises(ObjectNotFound):
            await state.object_store.head(late_key)
    finally:
        slow_upload.released.set()
        await slow_store.close()
        await purge(second_db, [granted.licence_id])


async def test_a_slow_build_does_not_hold_up_the_issue_of_the_others_in_its_batch(
    committing: list[async_sessionmaker[AsyncSession]],
    shared_delivery_app: FastAPI,
    shared_storage_settings: StorageSettings,
    catalogue: Api,
    ines: Actor,
    lab: Actor,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    keys: DeliveryKeys = shared_delivery_app.state.delivery_keys
    works = [
        await catalogue.listed_work(ines, os.urandom(1_000 + n), Use.TRAINING) for n in range(3)
    ]
    grants = [licence_granted(lab, [licence_line(work)]) for work in works]
    slow_file = work_version_key(
        uuid.UUID(works[0]["id"]), uuid.UUID(works[0]["current_version"]["id"])
    )
    store = create_object_store(shared_storage_settings)
    slow = StalledStore(store, monkeypatch, only=slow_file)
    database, observer = committing
    builder = replica(database, BuildTools(store=store, keys=keys))
    try:
        async with database() as session, session.begin():
            await grant_service.record(session, grants, watermark=keys.watermark)
        build = asyncio.create_task(builder.build_batch())
        await asyncio.wait_for(slow.called.wait(), timeout=10)

        # One batch leased all three; the two whose files answer are issued while the
        # third is still waiting for its store.
        for granted in grants[1:]:
            await eventually_issued(observer, granted.licence_id)
        assert (await status_of(observer, grants[0].licence_id))[1] == "building"
        assert not build.done()

        slow.released.set()
        assert len(await asyncio.wait_for(build, timeout=10)) == len(grants)
        assert (await status_of(observer, grants[0].licence_id))[1] == "issued"
    finally:
        slow.released.set()
        await store.close()
        await purge(observer, [granted.licence_id for granted in grants])


def replica(sessionmaker: async_sessionmaker[AsyncSession], tools: BuildTools) -> DeliveryBuilder:
    runtime = BuildRuntime(sessionmaker=sessionmaker, tools=tools)
    return DeliveryBuilder(
        lambda: runtime, poll_seconds=1, max_backoff_seconds=1, lease_seconds=600
    )


async def lapse_lease(
    sessionmaker: async_sessionmaker[AsyncSession], delivery_id: uuid.UUID
) -> None:
    """As if the lease on `delivery_id` had run out."""
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id)
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )


async def manifest_of(
    sessionmaker: async_sessionmaker[AsyncSession], delivery_id: uuid.UUID
) -> tuple[str, str]:
    """The manifest the delivery's row points at: its key and sha256."""
    async with sessionmaker() as session:
        row = (
            await session.execute(
                select(Delivery.manifest_key, Delivery.manifest_sha256).where(
                    Delivery.id == delivery_id
                )
            )
        ).one()
    assert row.manifest_key is not None
    assert row.manifest_sha256 is not None
    return row.manifest_key, row.manifest_sha256


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
