import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from fastapi import Depends, FastAPI
from pydantic import BaseModel
from sqlalchemy import delete, select, text
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from gateway.accounts.models import Account
from services.kit.client import REQUEST_SECONDS
from services.kit.db import (
    UTCDateTime,
    create_engine,
    create_sessionmaker,
    get_session,
    new_metadata,
    on_commit,
    utcnow,
)
from services.kit.errors import Conflict, install_error_handlers

INDIA = timezone(timedelta(hours=5, minutes=30))


class _Base(DeclarativeBase):
    metadata = new_metadata()


class Stamp(_Base):
    __tablename__ = "stamp"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'kit.db'}")
    async with engine.begin() as connection:
        await connection.run_sync(_Base.metadata.create_all)
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()


def _is_utc(value: datetime) -> bool:
    return value.tzinfo is not None and value.utcoffset() == timedelta(0)


async def test_sqlite_returns_aware_utc_datetimes(
    sqlite_db: async_sessionmaker[AsyncSession],
) -> None:
    written = datetime(2026, 3, 1, 12, 0, 30, 123456, tzinfo=INDIA)
    async with sqlite_db() as session:
        session.add(Stamp(id=1, at=written))
        await session.commit()

    async with sqlite_db() as session:
        read = await session.scalar(select(Stamp.at).where(Stamp.id == 1))

    assert read is not None
    assert _is_utc(read)
    assert read == written
    assert read.hour == 6
    assert read.minute == 30


async def test_sqlite_refuses_naive_datetimes(sqlite_db: async_sessionmaker[AsyncSession]) -> None:
    async with sqlite_db() as session:
        session.add(Stamp(id=1, at=datetime(2026, 3, 1, 12, 0)))

        with pytest.raises(StatementError, match="naive datetimes are not stored"):
            await session.commit()


async def test_sqlite_connections_enforce_foreign_keys_and_use_wal(
    sqlite_db: async_sessionmaker[AsyncSession],
) -> None:
    async with sqlite_db() as session:
        foreign_keys = await session.scalar(text("PRAGMA foreign_keys"))
        journal_mode = await session.scalar(text("PRAGMA journal_mode"))

    assert foreign_keys == 1
    assert journal_mode == "wal"


async def test_a_sqlite_write_waits_for_the_lock_less_long_than_its_caller_waits(
    sqlite_db: async_sessionmaker[AsyncSession],
) -> None:
    # Otherwise a request could commit after its caller had answered "unavailable".
    async with sqlite_db() as session:
        busy_timeout_ms = await session.scalar(text("PRAGMA busy_timeout"))

    assert 0 < busy_timeout_ms < REQUEST_SECONDS * 1000


async def test_postgresql_returns_aware_utc_datetimes(gateway_session: AsyncSession) -> None:
    written = datetime(2026, 3, 1, 12, 0, 30, 123456, tzinfo=INDIA)
    account = Account(name="Lab", email=f"{uuid.uuid4().hex}@example.org", created_at=written)
    gateway_session.add(account)
    await gateway_session.flush()
    gateway_session.expunge(account)

    read = await gateway_session.scalar(select(Account.created_at).where(Account.id == account.id))
    stored_in_utc = await gateway_session.scalar(
        text("SELECT created_at AT TIME ZONE 'UTC' FROM account WHERE id = :id"),
        {"id": account.id},
    )

    assert read is not None
    assert _is_utc(read)
    assert read == written
    assert stored_in_utc == datetime(2026, 3, 1, 6, 30, 30, 123456)


async def test_postgresql_refuses_naive_datetimes(gateway_session: AsyncSession) -> None:
    gateway_session.add(
        Account(
            name="Lab",
            email=f"{uuid.uuid4().hex}@example.org",
            created_at=datetime(2026, 3, 1, 12, 0),
        )
    )

    with pytest.raises(StatementError, match="naive datetimes are not stored"):
        await gateway_session.flush()


class AccountIn(BaseModel):
    email: str


def _accounts_app(sessionmaker: async_sessionmaker[AsyncSession]) -> FastAPI:
    app = FastAPI()
    app.state.sessionmaker = sessionmaker
    install_error_handlers(app)
    session_dependency = Depends(get_session, scope="function")

    @app.post("/accounts")
    async def create(body: AccountIn, session: AsyncSession = session_dependency) -> dict[str, str]:
        session.add(Account(name="Lab", email=body.email))
        await session.flush()
        return {"status": "created"}

    @app.post("/accounts/refused")
    async def refused(body: AccountIn, session: AsyncSession = session_dependency) -> None:
        session.add(Account(name="Lab", email=body.email))
        await session.flush()
        raise Conflict("the account cannot be created")

    @app.post("/accounts/crash")
    async def crash(body: AccountIn, session: AsyncSession = session_dependency) -> None:
        session.add(Account(name="Lab", email=body.email))
        await session.flush()
        raise RuntimeError("unexpected")

    @app.post("/accounts/unflushed")
    async def unflushed(
        body: AccountIn, session: AsyncSession = session_dependency
    ) -> dict[str, str]:
        # Nothing reaches the database before the commit, so only the commit can fail.
        session.add(Account(name="Lab", email=body.email))
        return {"status": "created"}

    return app


@pytest.fixture
async def email_domain(gateway_db: async_sessionmaker[AsyncSession]) -> AsyncIterator[str]:
    """A domain of this test only; its accounts are deleted at the end."""
    domain = f"kit-{uuid.uuid4().hex[:12]}.example"
    yield domain
    async with gateway_db() as session:
        await session.execute(delete(Account).where(Account.email.endswith(f"@{domain}")))
        await session.commit()


@pytest.fixture
async def accounts_api(migrated_postgres: str) -> AsyncIterator[httpx.AsyncClient]:
    # The app has its own engine, so what it commits is checked from another connection.
    engine = create_engine(migrated_postgres, schema="gateway", pool_size=2)
    transport = httpx.ASGITransport(
        app=_accounts_app(create_sessionmaker(engine)), raise_app_exceptions=False
    )
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield client
    finally:
        await engine.dispose()


async def _exists(sessionmaker: async_sessionmaker[AsyncSession], email: str) -> bool:
    async with sessionmaker() as session:
        return await session.scalar(select(Account.id).where(Account.email == email)) is not None


async def test_get_session_commits_when_the_endpoint_returns(
    accounts_api: httpx.AsyncClient,
    gateway_db: async_sessionmaker[AsyncSession],
    email_domain: str,
) -> None:
    email = f"ok@{email_domain}"

    response = await accounts_api.post("/accounts", json={"email": email})

    assert response.status_code == 200
    assert await _exists(gateway_db, email)


async def test_get_session_rolls_back_when_the_endpoint_raises_a_domain_error(
    accounts_api: httpx.AsyncClient,
    gateway_db: async_sessionmaker[AsyncSession],
    email_domain: str,
) -> None:
    email = f"refused@{email_domain}"

    response = await accounts_api.post("/accounts/refused", json={"email": email})

    assert response.status_code == 409
    assert response.json()["error"] == "Conflict"
    assert not await _exists(gateway_db, email)


async def test_get_session_rolls_back_when_the_endpoint_crashes(
    accounts_api: httpx.AsyncClient,
    gateway_db: async_sessionmaker[AsyncSession],
    email_domain: str,
) -> None:
    email = f"crash@{email_domain}"

    response = await accounts_api.post("/accounts/crash", json={"email": email})

    assert response.status_code == 500
    assert not await _exists(gateway_db, email)


async def test_client_never_sees_success_for_a_write_that_failed_to_commit(
    accounts_api: httpx.AsyncClient,
    gateway_db: async_sessionmaker[AsyncSession],
    email_domain: str,
) -> None:
    email = f"taken@{email_domain}"
    assert (await accounts_api.post("/accounts", json={"email": email})).status_code == 200

    # The second account breaks the unique email only when the dependency commits.
    response = await accounts_api.post("/accounts/unflushed", json={"email": email})

    assert response.status_code == 503
    assert response.json()["error"] == "CommitFailed"
    async with gateway_db() as session:
        count = await session.scalar(
            select(text("count(*)")).select_from(Account).where(Account.email == email)
        )
    assert count == 1


async def test_on_commit_runs_after_commit_only(
    gateway_db: async_sessionmaker[AsyncSession],
) -> None:
    calls: list[str] = []
    async with gateway_db() as session:
        await session.execute(text("SELECT 1"))
        on_commit(session, lambda: calls.append("committed"))
        assert calls == []

        await session.commit()

    assert calls == ["committed"]


async def test_on_commit_does_not_run_when_the_transaction_rolls_back(
    gateway_db: async_sessionmaker[AsyncSession],
) -> None:
    calls: list[str] = []
    async with gateway_db() as session:
        await session.execute(text("SELECT 1"))
        on_commit(session, lambda: calls.append("rolled back"))
        await session.rollback()

        # The next transaction of the same session commits.
        await session.execute(text("SELECT 1"))
        await session.commit()

    assert calls == []


async def test_on_commit_runs_only_for_sessions_of_the_kit_sessionmaker(
    gateway_db: async_sessionmaker[AsyncSession],
) -> None:
    calls: list[str] = []
    async with gateway_db() as ours:
        engine = ours.bind
    async with async_sessionmaker(engine)() as foreign:
        on_commit(foreign, lambda: calls.append("foreign"))
        await foreign.execute(text("SELECT 1"))
        await foreign.commit()
    async with gateway_db() as session:
        on_commit(session, lambda: calls.append("ours"))
        await session.execute(text("SELECT 1"))
        await session.commit()

    assert calls == ["ours"]


async def test_utcnow_is_aware_utc() -> None:
    now = utcnow()

    assert _is_utc(now)
    assert abs(now - datetime.now(UTC)) < timedelta(seconds=5)


async def test_after_the_database_drops_its_connections_one_request_fails_then_all_reconnect(
    migrated_postgres: str,
) -> None:
    # No pre-ping (the default): what a database restart does to a process's pool.
    engine = create_engine(migrated_postgres, schema="gateway", pool_size=2)
    try:
        pids = []
        async with engine.connect() as first, engine.connect() as second:
            for connection in (first, second):
                pids.append(await connection.scalar(text("SELECT pg_backend_pid()")))
        administrator = create_engine(migrated_postgres, pool_size=1)
        try:
            async with administrator.connect() as connection:
                await connection.execute(
                    text("SELECT pg_terminate_backend(pid) FROM unnest(CAST(:pids AS int[])) pid"),
                    {"pids": pids},
                )
        finally:
            await administrator.dispose()

        outcomes: list[str] = []
        for _ in range(3):
            try:
                async with engine.connect() as connection:
                    await connection.scalar(text("SELECT 1"))
                outcomes.append("ok")
            except DBAPIError as error:
                outcomes.append("invalidated" if error.connection_invalidated else str(error))

        # The first use finds the connection dead and empties the pool; the rest reconnect.
        assert outcomes == ["invalidated", "ok", "ok"]
    finally:
        await engine.dispose()
