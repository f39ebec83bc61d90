"""The FastAPI application every service is built on: logging, errors, the database, the
internal token, the outbox relay, health and readiness, and an operator status."""

import asyncio
import gc
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import structlog
from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import JSONResponse
from opentelemetry.trace import NoOpTracer
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.events import Topic
from services.contracts.health import ServiceStatus
from services.contracts.roles import Role
from services.kit.client import new_transport
from services.kit.db import create_engine, create_sessionmaker, get_session, is_sqlite, utcnow
from services.kit.errors import Forbidden, Unauthenticated, error_responses, install_error_handlers
from services.kit.internal_token import (
    GATEWAY,
    CurrentCaller,
    TokenSigner,
    TokenVerifier,
    load_private_key,
    public_keys_for,
    require_role,
)
from services.kit.limits import BodySizeLimitMiddleware
from services.kit.logging import RequestContextMiddleware, configure_logging
from services.kit.metrics import MetricsMiddleware, ProcessMetrics
from services.kit.outbox import (
    EventHandler,
    EventReceiver,
    OutboxRelay,
    RelayWakeups,
    event_router,
    pending_count,
)
from services.kit.settings import ServiceSettings
from services.kit.tracing import Tracing
from storage.object_store import ObjectStore

log = structlog.get_logger()

ReadinessCheck = Callable[[], Awaitable[None]]
StartupHook = Callable[[FastAPI], Awaitable[None]]


def create_service_app(
    name: str,
    settings: ServiceSettings,
    *,
    routers: Sequence[APIRouter] = (),
    event_handlers: Mapping[Topic, EventHandler] | EventReceiver | None = None,
    object_store: ObjectStore | None = None,
    on_startup: StartupHook | None = None,
    version: str = "0.1.0",
    tracing: Tracing | None = None,
    readers: frozenset[str] = frozenset(),
    public: bool = False,
) -> FastAPI:
    """`tracing` defaults to what the `OTEL_*` variables configure (off unless set);
    a `public` app (the gateway) ignores its callers' trace headers.
    `readers`: the services that may call this one's `ReadingCaller` endpoints; besides
    them it accepts the gateway and the publishers of the events it receives."""
    configure_logging(name, settings.log_level)
    tracing = tracing or Tracing.from_environment(name)
    receiver = event_handlers
    if receiver is not None and not isinstance(receiver, EventReceiver):
        receiver = EventReceiver.per_event(receiver) if receiver else None
    issuers = frozenset({GATEWAY}) | readers | (receiver.publishers if receiver else frozenset())
    verifier = TokenVerifier(
        public_keys_for(settings.internal_public_keys, issuers), audience=name, readers=readers
    )
    signer = TokenSigner(
        load_private_key(
            settings.internal_signing_key.get_secret_value(),
            setting=f"ASSENT_{name.upper()}_INTERNAL_SIGNING_KEY",
        ),
        issuer=name,
    )
    database_url, schema = settings.database(name)
    engine = create_engine(
        database_url,
        schema=schema,
        pool_size=settings.database_pool_size,
        pool_overflow=settings.database_pool_overflow,
        pre_ping=settings.database_pool_pre_ping,
    )
    sessionmaker = create_sessionmaker(engine)
    wakeups = RelayWakeups()
    wakeups.serve(sessionmaker)
    if tracing is not None:
        tracing.instrument_engine(engine)
    http = new_transport(tracing.client_trace_configs()) if tracing else new_transport()
    tracer = tracing.tracer if tracing is not None else NoOpTracer()
    relay = OutboxRelay(
        sessionmaker,
        source=name,
        destinations=settings.service_urls(),
        signer=signer,
        http=http,
        poll_seconds=settings.outbox_poll_seconds,
        max_backoff_seconds=settings.outbox_max_backoff_seconds,
        wakeups=wakeups,
        tracer=tracer,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if on_startup is not None:
            await on_startup(app)
        # What startup built (the app, its schemas, the ORM's mappers) lives as long as the
        # process: frozen out of the collector, a full collection no longer walks it (one
        # took 117 ms in the gateway under load). Garbage is collected first, not frozen.
        gc.collect()
        gc.freeze()
        relay_task = asyncio.create_task(relay.run(), name=f"{name}-outbox-relay")
        tasks = [relay_task]
        stop_metrics = None
        if metrics is not None:
            stop_metrics = metrics.serve(settings.metrics_host, settings.metrics_port)
            sampling = metrics.sample_every(
                settings.metrics_sample_seconds, engine, lambda: app.state.sessionmaker
            )
            tasks.append(asyncio.create_task(sampling, name=f"{name}-metrics"))
        log.info("service.started", service=name)
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if stop_metrics is not None:
                stop_metrics()
            await http.aclose()
            await engine.dispose()
            if tracing is not None:
                await tracing.shutdown()

    app = FastAPI(title=f"Assent {name}", version=version, lifespan=lifespan)
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = sessionmaker
    app.state.token_verifier = verifier
    app.state.token_signer = signer
    app.state.http = http
    app.state.relay = relay
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_request_bytes)
    app.add_middleware(RequestContextMiddleware)
    metrics = ProcessMetrics(name) if settings.metrics_port else None
    app.state.metrics = metrics
    if metrics is not None:
        # Outermost: it times the whole answer, the other middleware included.
        app.add_middleware(MetricsMiddleware, metrics=metrics)
    install_error_handlers(app)
    if tracing is not None:
        tracing.instrument_app(app, public=public)

    checks: dict[str, ReadinessCheck] = {
        "database": _database_check(app),
        "database_write": _database_write_check(
            app, database_url, min_free_bytes=settings.database_min_free_bytes
        ),
    }
    if object_store is not None:
        app.state.object_store = object_store
        checks["object_store"] = _object_store_check(object_store)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """The process is up (no dependency is checked)."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz() -> JSONResponse:
        """Every dependency answers (the database, which must also accept a commit, and
        the object store where used)."""
        results: dict[str, str] = {}
        for check_name, check in checks.items():
            try:
                await asyncio.wait_for(check(), timeout=5)
                results[check_name] = "ok"
            except Exception as exc:
                results[check_name] = f"unavailable: {type(exc).__name__}"
        ready = all(result == "ok" for result in results.values())
        body = {"status": "ready" if ready else "unavailable", "checks": results}
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.get(
        "/v1/status",
        response_model=ServiceStatus,
        tags=["health"],
        responses=error_responses(Unauthenticated, Forbidden),
    )
    async def status(
        caller: CurrentCaller, session: AsyncSession = Depends(get_session, scope="function")
    ) -> ServiceStatus:
        """Schema revision and outbox backlog, for operators."""
        require_role(caller, Role.ADMIN)
        revision = (await session.execute(text("SELECT version_num FROM alembic_version"))).scalar()
        pending, oldest = await pending_count(session)
        return ServiceStatus(
            service=name,
            schema_revision=revision,
            outbox_pending=pending,
            outbox_oldest_pending_at=oldest,
            checked_at=utcnow(),
        )

    if receiver:
        app.include_router(event_router(receiver, tracer=tracer))
    for router in routers:
        app.include_router(router)
    return app


def _database_check(app: FastAPI) -> ReadinessCheck:
    async def check() -> None:
        # Reading the migration table proves both the connection and that the schema has
        # been migrated: a fresh, empty database is not ready.
        async with app.state.engine.connect() as connection:
            await connection.execute(text("SELECT version_num FROM alembic_version"))

    return check


class DatabaseDiskFull(Exception):
    """The filesystem under the SQLite database has less room than the service needs."""


def _database_write_check(
    app: FastAPI, database_url: str, *, min_free_bytes: int
) -> ReadinessCheck:
    """Whether the database commits a write: the migration table's row rewritten as it is.

    A real row on disk, so a read-only server (a standby after a failover,
    `default_transaction_read_only`), a read-only SQLite file, or a disk that cannot take
    the new row version refuses it. On SQLite a full disk is also caught before that, by
    the free space of the file's filesystem: a write that fits in pages the file already
    has still succeeds there, and the next one that needs a page fails mid-request."""
    sqlite_file = make_url(database_url).database if is_sqlite(database_url) else None
    sqlite_directory = Path(sqlite_file).resolve().parent if sqlite_file else None

    async def check() -> None:
        if sqlite_directory is not None:
            free = (await asyncio.to_thread(shutil.disk_usage, sqlite_directory)).free
            if free < min_free_bytes:
                raise DatabaseDiskFull(f"{free} bytes free, {min_free_bytes} needed")
        async with app.state.engine.begin() as connection:
            await connection.execute(text("UPDATE alembic_version SET version_num = version_num"))

    return check


def _object_store_check(store: ObjectStore) -> ReadinessCheck:
    bucket_ready = False

    async def check() -> None:
        # The first successful check creates the bucket if it is missing, so a store
        # that comes up after the service still ends up usable.
        nonlocal bucket_ready
        if not bucket_ready:
            await store.ensure_bucket()
            bucket_ready = True
        await store.check()

    return check
