import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI
from starlette.datastructures import State

from assent.protocol import Signer
from services.audit.chain.api import router as chain_router
from services.audit.checkpoint.api import router as checkpoint_router
from services.audit.config import Settings
from services.audit.log.events import log_receiver
from services.audit.sequencer import Sequencer, SequencerRuntime
from services.audit.witnessing.submit import Witnessing
from services.contracts.signing import CHECKPOINT_KEY_PURPOSE
from services.kit.app import create_service_app
from storage import create_object_store
from storage.object_store import StorageSettings

ROUTERS = (checkpoint_router, chain_router)


def sequencer_runtime(state: State) -> SequencerRuntime:
    """Read from the app's state at each pass, so what a test swaps in is what is used."""
    return SequencerRuntime(
        sessionmaker=state.sessionmaker,
        signer=state.checkpoint_signer,
        store=state.object_store,
        witnessing=state.witnessing,
    )


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
        routers=list(ROUTERS),
        event_handlers=log_receiver(on_recorded=sequencer.wake),
        object_store=create_object_store(storage_settings or StorageSettings()),
    )
    app.state.checkpoint_signer = Signer(settings.signing_key, purpose=CHECKPOINT_KEY_PURPOSE)
    app.state.sequencer = sequencer
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
