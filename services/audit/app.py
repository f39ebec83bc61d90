import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import State

from services.audit.chain.api import router as chain_router
from services.audit.checkpoint.api import router as checkpoint_router
from services.audit.config import Settings
from services.audit.log.events import log_receiver
from services.audit.log.service import log_service
from services.audit.metrics import audit_sampler
from services.audit.sequencer import Sequencer, SequencerRuntime
from services.audit.witnessing.submit import Witnessing
from services.contracts.events import EventEnvelope, Topic
from services.contracts.signing import CHECKPOINT_KEY_PURPOSE, KeyRotated
from services.kit.app import create_service_app
from services.kit.db import on_commit, utcnow
from services.kit.keyring import Keyring, OnRotated, keys_router
from storage import create_object_store
from storage.object_store import StorageSettings

ROUTERS = (checkpoint_router, chain_router)


def sequencer_runtime(state: State) -> SequencerRuntime:
    """Read from the app's state at each pass, so what a test swaps in is what is used."""
    return SequencerRuntime(
        sessionmaker=state.sessionmaker,
        signer=state.checkpoint_signer,
        store=state.object_store,
        keyring=state.keyring,
        witnessing=state.witnessing,
    )


def log_rotation(on_recorded: Callable[[], None]) -> OnRotated:
    """The log's own keys are logged directly, as a pending entry in the rotation's
    transaction: the log has no outbox to itself."""

    async def record(session: AsyncSession, rotated: KeyRotated) -> None:
        envelope = EventEnvelope(
            id=uuid.uuid4(),
            topic=Topic.KEY_ROTATED,
            source="audit",
            occurred_at=utcnow(),
            payload=rotated.model_dump(mode="json"),
        )
        await log_service.record(session, [envelope])
        on_commit(session, on_recorded)

    return record


async def record_configured_key(app: FastAPI) -> None:
    """At start: log the first checkpoint key, or the rotation to a new configured seed."""
    keyring: Keyring = app.state.keyring
    async with app.state.sessionmaker() as session, session.begin():
        await keyring.record_configured(session)


def create_app(
    settings: Settings | None = None, storage_settings: StorageSettings | None = None
) -> FastAPI:
    settings = settings or Settings()
    if not settings.signing_key.get_secret_value():
        # Checkpoints nobody can verify make the log worthless: refuse to start.
        raise ValueError(
            "ASSENT_AUDIT_SIGNING_KEY is not set: give the base64 Ed25519 seed that signs "
            "audit checkpoints (python -c 'from assent.protocol import generate_seed; "
            "print(generate_seed())' makes one)"
        )
    sequencer = Sequencer(
        lambda: sequencer_runtime(app.state),
        batch_size=settings.sequencer_batch_size,
        poll_seconds=settings.sequencer_poll_seconds,
        checkpoint_interval=timedelta(seconds=settings.checkpoint_interval_seconds),
        max_backoff_seconds=settings.sequencer_max_backoff_seconds,
    )
    app = create_service_app(
        "audit",
        settings,
        routers=[*ROUTERS, keys_router()],
        event_handlers=log_receiver(on_recorded=sequencer.wake),
        on_startup=record_configured_key,
        object_store=create_object_store(storage_settings or StorageSettings()),
    )
    app.state.keyring = Keyring(
        settings.signing_key,
        purpose=CHECKPOINT_KEY_PURPOSE,
        service="audit",
        on_rotated=log_rotation(sequencer.wake),
    )
    # The configured seed's own key; the sequencer signs with the key valid at each pass.
    app.state.checkpoint_signer = app.state.keyring.signer()
    app.state.sequencer = sequencer
    if app.state.metrics is not None:
        app.state.metrics.add_sampler(audit_sampler(app.state.metrics))
    app.state.witnessing = Witnessing(
        witnesses=tuple(settings.witnesses),
        quorum=settings.quorum,
        transport=app.state.http,
        retry_seconds=settings.witness_retry_seconds,
    )
    service_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Inside the kit's lifespan, so the sequencer stops before the database goes.
        async with service_lifespan(app):
            task = asyncio.create_task(sequencer.run(), name="audit-sequencer")
            try:
                yield
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    app.router.lifespan_context = lifespan
    return app
