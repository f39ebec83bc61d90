import asyncio
import itertools
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import State

from services.contracts.events import EventEnvelope, Topic
from services.contracts.licensing import LicenceGranted, LicenceRefunded
from services.delivery.api import router
from services.delivery.builder import BuildRuntime, DeliveryBuilder, wake_builders
from services.delivery.building import BuildTools
from services.delivery.config import Settings
from services.delivery.manifest import DeliveryKeys, ManifestSigner, Watermark
from services.delivery.service import delivery_service
from services.kit.app import create_service_app
from services.kit.db import on_commit
from services.kit.outbox import EventReceiver
from storage import create_object_store
from storage.object_store import StorageSettings


def build_runtime(state: State) -> BuildRuntime:
    """Read from the app's state at each build, so what a test swaps in is what is used."""
    return BuildRuntime(
        sessionmaker=state.sessionmaker,
        tools=BuildTools(store=state.object_store, keys=state.delivery_keys),
    )


def create_app(
    settings: Settings | None = None, storage_settings: StorageSettings | None = None
) -> FastAPI:
    settings = settings or Settings()
    keys = DeliveryKeys(
        signer=ManifestSigner(settings.signing_key), watermark=Watermark(settings.watermark_secret)
    )

    async def receive(session: AsyncSession, envelopes: Sequence[EventEnvelope]) -> None:
        """In order; each run of grants together, a refund on its own after the grants
        before it."""
        for topic, run in itertools.groupby(envelopes, key=lambda envelope: envelope.topic):
            if topic == Topic.LICENCE_GRANTED:
                grants = [LicenceGranted.model_validate(envelope.payload) for envelope in run]
                await delivery_service.record_grants(session, grants, watermark=keys.watermark)
                on_commit(session, wake_builders)
            else:
                for envelope in run:
                    await delivery_service.record_refund(
                        session, LicenceRefunded.model_validate(envelope.payload)
                    )

    app = create_service_app(
        "delivery",
        settings,
        routers=[router],
        event_handlers=EventReceiver(
            frozenset({Topic.LICENCE_GRANTED, Topic.LICENCE_REFUNDED}), receive
        ),
        object_store=create_object_store(storage_settings or StorageSettings()),
    )
    app.state.delivery_keys = keys
    builder = DeliveryBuilder(
        lambda: build_runtime(app.state),
        poll_seconds=settings.build_poll_seconds,
        max_backoff_seconds=settings.build_max_backoff_seconds,
        lease_seconds=settings.build_lease_seconds,
    )
    app.state.builder = builder
    service_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Inside the kit's lifespan, so the builder stops before the database goes.
        async with service_lifespan(app):
            task = asyncio.create_task(builder.run(), name="delivery-builder")
            try:
                yield
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    app.router.lifespan_context = lifespan
    return app
