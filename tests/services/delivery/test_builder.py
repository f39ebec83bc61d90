"""The builder in earnest: transactions that really commit, replicas side by side, a
replica that dies mid-build, and a service that restarts with work left over.

These tests commit to the delivery schema, so each removes what it wrote.
"""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.contracts.catalogue import Use
from services.contracts.events import Topic
from services.delivery.app import create_app
from services.delivery.builder import BuildRuntime, DeliveryBuilder
from services.delivery.catalogue_client import CatalogueWorks
from services.delivery.models import Delivery, DeliveryEntry, Licence, LicenceLine
from services.delivery.service import BuildTools, DeliveryKeys, delivery_service
from services.kit.client import HttpxTransport, ServiceClient
from services.kit.db import create_engine, create_sessionmaker
from services.kit.outbox import InboxEvent, OutboxDelivery
from storage import StorageSettings
from tests.services.catalogue.helpers import Actor, Api
from tests.services.delivery.conftest import CATALOGUE_URL, catalogue_client, delivery_settings
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


class Stalled(httpx.AsyncBaseTransport):
    """A catalogue that never answers: the replica calling it hangs until it is killed."""

    def __init__(self) -> None:
        self.called = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.called.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def test_replicas_build_each_delivery_once_and_take_over_from_one_that_dies(
    committing: list[async_sessionmaker[AsyncSession]],
    shared_delivery_app: FastAPI,
    catalogue_app: FastAPI,
    catalogue: Api,
    ines: Actor,
    lab: Actor,
) -> None:
    state = shared_delivery_app.state
    keys: DeliveryKeys = state.delivery_keys
    work = await catalogue.listed_work(ines, os.urandom(1_000), Use.TRAINING)
    granted = licence_granted(lab, [licence_line(work)])
    stalled = Stalled()

    def replica(
        sessionmaker: async_sessionmaker[AsyncSession], http: httpx.AsyncClient
    ) -> DeliveryBuilder:
        client = ServiceClient(
            "catalogue", CATALOGUE_URL, signer=state.token_signer, http=HttpxTransport(http)
        )
        tools = BuildTools(works=CatalogueWorks(client), store=state.object_store, keys=keys)
        runtime = BuildRuntime(sessionmaker=sessionmaker, tools=tools)
        return DeliveryBuilder(lambda: runtime, poll_seconds=1, max_backoff_seconds=1)

    first_db, second_db = committing
    async with (
        httpx.AsyncClient(transport=stalled) as stalled_http,
        catalogue_client(catalogue_app) as healthy_http,
    ):
        dying, healthy = replica(first_db, stalled_http), replica(second_db, healthy_http)
        try:
            async with first_db() as session, session.begin():
                await delivery_service.record_grants(session, [granted], watermark=keys.watermark)
            build = asyncio.create_task(dying.build_next())
            await asyncio.wait_for(stalled.called.wait(), timeout=10)

            # The other replica skips the delivery the first holds, rather than wait for it
            # or build it a second time ...
            assert await healthy.build_pending() == []
            # ... until the first dies mid-build: its transaction goes, and its claim too.
            build.cancel()
            await asyncio.gather(build, return_exceptions=True)
            delivery_id, status = await status_of(second_db, granted.licence_id)
            assert status == "building"
            assert await healthy.build_pending() == [delivery_id]

            assert (await status_of(second_db, granted.licence_id))[1] == "issued"
            async with second_db() as session:
                issued = await outbox_payloads(session, Topic.DELIVERY_ISSUED)
            assert [event["delivery_id"] for event in issued].count(str(delivery_id)) == 1
        finally:
            await purge(second_db, [granted.licence_id])


async def test_a_restarted_service_builds_what_was_left_and_each_new_grant_at_once(
    committing: list[async_sessionmaker[AsyncSession]],
    migrated_postgres: str,
    shared_storage_settings: StorageSettings,
    catalogue_app: FastAPI,
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
    await app.state.http.aclose()
    try:
        async with catalogue_client(catalogue_app) as http:
            app.state.http = HttpxTransport(http)
            # Granted while no builder ran (the last process stopped first).
            async with database() as session, session.begin():
                await delivery_service.record_grants(session, [left_over], watermark=keys.watermark)
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
