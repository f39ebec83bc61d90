import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI
from starlette.datastructures import State

from services.contracts.signing import MANIFEST_KEY_PURPOSE
from services.delivery.builder import BuildRuntime, BuildTools, DeliveryBuilder
from services.delivery.config import Settings
from services.delivery.delivery.api import router as delivery_router
from services.delivery.download.api import router as download_router
from services.delivery.grant.events import grant_receiver
from services.delivery.manifest import DeliveryKeys, Watermark
from services.delivery.provenance import provenance_from
from services.delivery.shards import ShardBuilder
from services.delivery.shards import router as shards_router
from services.delivery.status.api import router as status_router
from services.delivery.trace.api import router as trace_router
from services.delivery.webhook.addresses import WebhookResolver
from services.delivery.webhook.api import router as webhook_router
from services.delivery.webhook.sender import SenderSettings, WebhookSender
from services.kit.app import create_service_app
from services.kit.keyring import Keyring, emit_rotation, keys_router
from services.kit.tracing import Tracing
from storage import create_object_store
from storage.object_store import StorageSettings

ROUTERS = (
    delivery_router,
    download_router,
    shards_router,
    status_router,
    trace_router,
    webhook_router,
)


def build_runtime(state: State) -> BuildRuntime:
    """Read from the app's state at each build, so what a test swaps in is what is used."""
    return BuildRuntime(
        sessionmaker=state.sessionmaker,
        tools=BuildTools(
            store=state.object_store,
            keys=state.delivery_keys.bound(state.sessionmaker),
            provenance=state.provenance,
        ),
    )


async def record_configured_key(app: FastAPI) -> None:
    """At start: log the first manifest key, or the rotation to a new configured seed."""
    keyring: Keyring = app.state.keyring
    async with app.state.sessionmaker() as session, session.begin():
        await keyring.record_configured(session)


def create_app(
    settings: Settings | None = None,
    storage_settings: StorageSettings | None = None,
    *,
    tracing: Tracing | None = None,
) -> FastAPI:
    """`tracing` defaults to what the `OTEL_*` variables configure (off unless set)."""
    settings = settings or Settings()
    # Made here, not left to the kit, so the builder traces with the app's own provider.
    tracing = tracing or Tracing.from_environment("delivery")
    keys = DeliveryKeys(
        keyring=Keyring(
            settings.signing_key,
            purpose=MANIFEST_KEY_PURPOSE,
            service="delivery",
            on_rotated=emit_rotation,
        ),
        watermark=Watermark(settings.watermark_secret),
    )
    builder = DeliveryBuilder(
        lambda: build_runtime(app.state),
        poll_seconds=settings.build_poll_seconds,
        max_backoff_seconds=settings.build_max_backoff_seconds,
        lease_seconds=settings.build_lease_seconds,
        tracer=tracing.tracer if tracing is not None else None,
    )
    shard_builder = ShardBuilder(
        lambda: build_runtime(app.state),
        poll_seconds=settings.build_poll_seconds,
        lease_seconds=settings.build_lease_seconds,
        max_backoff_seconds=settings.build_max_backoff_seconds,
    )
    sender_settings = SenderSettings(
        master=settings.watermark_secret,
        allow_private=settings.webhook_allow_private_urls,
        timeout_seconds=settings.webhook_timeout_seconds,
        max_attempts=settings.webhook_max_attempts,
        backoff_seconds=settings.webhook_backoff_seconds,
        max_backoff_seconds=settings.webhook_max_backoff_seconds,
        expiring_within=timedelta(days=settings.webhook_expiring_days),
        poll_seconds=settings.webhook_poll_seconds,
    )
    app = create_service_app(
        "delivery",
        settings,
        routers=[*ROUTERS, keys_router()],
        on_startup=record_configured_key,
        event_handlers=grant_receiver(
            keys.watermark, on_granted=builder.wake, on_messages=lambda: sender.wake()
        ),
        object_store=create_object_store(storage_settings or StorageSettings()),
        tracing=tracing,
    )
    # Bound to the app's database here; each build binds them again to what the state
    # holds then (a test swaps in its own).
    app.state.delivery_keys = keys.bound(app.state.sessionmaker)
    app.state.provenance = provenance_from(settings)
    app.state.keyring = keys.keyring
    app.state.builder = builder
    app.state.shard_builder = shard_builder
    sender = WebhookSender(lambda: app.state.sessionmaker, sender_settings)
    app.state.webhook_sender = sender
    app.state.webhook_resolver = WebhookResolver(allow_private=settings.webhook_allow_private_urls)
    service_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Inside the kit's lifespan, so the builder stops before the database goes.
        async with service_lifespan(app):
            tasks = [
                asyncio.create_task(builder.run(), name="delivery-builder"),
                asyncio.create_task(shard_builder.run(), name="delivery-shard-builder"),
                asyncio.create_task(sender.run(), name="delivery-webhook-sender"),
            ]
            try:
                yield
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    app.router.lifespan_context = lifespan
    return app
