"""Async engines and the one place a request's transaction is committed."""

import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import structlog
from sqlalchemy import DateTime, Dialect, MetaData, TypeDecorator, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Session, SessionTransaction, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry
from starlette.requests import Request

from services.kit.errors import CommitFailed, ServiceUnavailable, connection_lost

log = structlog.get_logger()

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


class KitBase(DeclarativeBase):
    """Tables every service owns a copy of (outbox, inbox), in that service's schema."""

    metadata = new_metadata()


# How long a transaction waits for SQLite's write lock before it fails: well under a
# caller's 10 s timeout, so a request that cannot write is refused and rolled back while
# its caller still listens, never committed after the caller gave up on it. No kit
# transaction holds the lock across a call to another process, so waits are short.
SQLITE_BUSY_SECONDS = 5.0


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(
    url: str,
    *,
    schema: str | None = None,
    pool_size: int = 16,
    pool_overflow: int = 0,
    pre_ping: bool = False,
) -> AsyncEngine:
    if is_sqlite(url):
        engine = create_async_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_SECONDS},
            json_serializer=_json_text,
            json_deserializer=orjson.loads,
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
            # WAL lets readers proceed while the one writer commits; foreign keys are off
            # by default in SQLite.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_SECONDS * 1000)}")
            cursor.close()
            # Take transactions out of the driver's hands (it would open them late and
            # break savepoints); `_begin_immediately` opens each one instead.
            dbapi_connection.isolation_level = None

        @event.listens_for(engine.sync_engine, "begin")
        def _begin_immediately(connection: Connection) -> None:
            # IMMEDIATE takes the write lock up front: a transaction that read first and
            # wrote later would otherwise fail with SQLITE_BUSY when another process
            # committed in between, which waiting cannot resolve.
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    connect_args: dict[str, Any] = {}
    if schema:
        connect_args["server_settings"] = {"search_path": schema}
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_overflow,
        pool_pre_ping=pre_ping,
        connect_args=connect_args,
        json_serializer=_json_text,
        json_deserializer=orjson.loads,
    )


def _json_text(value: Any) -> str:
    """JSON columns through orjson: a quote's lines decoded with the standard library's
    json were a twentieth of a purchase's CPU in the licensing process."""
    return orjson.dumps(value).decode()


def dialect_insert(session: AsyncSession) -> Any:
    """`insert` as the session's database spells it, which knows `ON CONFLICT`. Typed
    `Any`: the two dialects' `Insert` classes share no type that declares it."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def create_sessionmaker(
    bind: AsyncEngine | AsyncConnection, **options: Any
) -> async_sessionmaker[AsyncSession]:
    """The sessions of one app (or test), which run what `on_commit` queued once they
    commit. The listeners sit on this factory's own Session class, built here, so they
    reach no session of any other factory in the process."""
    sessions = sessionmaker()
    event.listen(sessions, "after_commit", _run_after_commit)
    event.listen(sessions, "after_soft_rollback", _forget_after_rollback)
    settings: dict[str, Any] = {"expire_on_commit": False, "autoflush": False, **options}
    return async_sessionmaker(bind, sync_session_class=sessions, **settings)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request: commit when the endpoint returns, roll back when it raises.

    Declared with `Depends(get_session, scope="function")` so the commit happens before
    the response is sent: a client never sees success for a write that failed to commit.
    """
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    session = sessionmaker()
    try:
        try:
            yield session
        except BaseException:
            await roll_back(session)
            raise
        try:
            await session.commit()
        except SQLAlchemyError as exc:
            log.error("db.commit_failed", error=f"{type(exc).__name__}: {exc}"[:500])
            # SQLite keeps a transaction whose COMMIT failed open, with its write lock:
            # without this rollback the connection went back to the pool holding it.
            await roll_back(session)
            if connection_lost(exc):
                # The COMMIT may have reached the server before the connection went.
                raise CommitFailed(
                    "the connection to the database was lost while saving: the change may "
                    "or may not have been saved; read it back, or retry with the same "
                    "idempotency key or reference"
                ) from exc
            # A full disk, a deferred constraint: whatever the endpoint was about to
            # answer did not happen, so it must not be answered.
            raise CommitFailed("the change could not be saved; nothing was changed") from exc
    finally:
        await close(session)


async def roll_back(session: AsyncSession) -> None:
    """Roll back, and discard the connection instead when it cannot (it was lost, or the
    driver was left mid-operation): the server rolls back a transaction whose connection
    ends, and a broken connection must never go back to the pool."""
    try:
        await session.rollback()
    except Exception as exc:
        await _discard(session, exc)


async def close(session: AsyncSession) -> None:
    """Close the session, discarding its connection if returning it fails."""
    try:
        await session.close()
    except Exception as exc:
        await _discard(session, exc)


async def _discard(session: AsyncSession, cause: Exception) -> None:
    log.warning("db.connection_discarded", error=f"{type(cause).__name__}: {cause}"[:300])
    await session.invalidate()


@contextlib.asynccontextmanager
async def short_session(
    sessionmaker: async_sessionmaker[AsyncSession], *, service: str
) -> AsyncIterator[AsyncSession]:
    """A session outside a request's own (authentication, a best-effort stamp): rolled
    back and closed however it ends, and a lost connection raised as `ServiceUnavailable`,
    which callers answer as the typed, retryable refusal it is."""
    session = sessionmaker()
    try:
        try:
            yield session
        except BaseException:
            await roll_back(session)
            raise
    except Exception as exc:
        if connection_lost(exc):
            raise ServiceUnavailable(
                "the connection to the database was lost; nothing was saved, retry",
                service=service,
            ) from exc
        raise
    finally:
        await close(session)


def on_commit(session: AsyncSession, callback: Callable[[], None]) -> None:
    """Run `callback` once the session's transaction has committed (e.g. wake the relay).
    Only a session of `create_sessionmaker` runs it: the listeners are on its factory."""
    session.info.setdefault("after_commit", []).append(callback)


def _run_after_commit(session: Session) -> None:
    for callback in session.info.pop("after_commit", []):
        callback()


def _forget_after_rollback(session: Session, previous_transaction: SessionTransaction) -> None:
    # Only the outermost transaction: a failed savepoint leaves the rest to commit.
    if previous_transaction.parent is None:
        session.info.pop("after_commit", None)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on every backend (SQLite returns naive values otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use an aware UTC datetime")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def utcnow() -> datetime:
    return datetime.now(UTC)
