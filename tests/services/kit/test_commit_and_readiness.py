"""A commit the database refuses is answered as a typed error, never as the success the
endpoint prepared; `/readyz` reports a service whose database cannot write."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from services.kit.app import create_service_app
from services.kit.db import create_engine, create_sessionmaker, get_session
from services.kit.errors import install_error_handlers
from services.kit.migrations import upgrade
from services.kit.settings import ServiceSettings
from tests.fixtures.internal_keys import key_settings

CATALOGUE_MIGRATIONS = Path(__file__).parents[3] / "services" / "catalogue" / "migrations"


def _recording_app(sessionmaker: async_sessionmaker[AsyncSession]) -> FastAPI:
    """An endpoint that records a note and answers that it did."""
    app = FastAPI()
    app.state.sessionmaker = sessionmaker
    install_error_handlers(app)

    @app.post("/notes/{body}")
    async def record(
        body: str, session: AsyncSession = Depends(get_session, scope="function")
    ) -> dict[str, str]:
        await session.execute(text("INSERT INTO note (body) VALUES (:body)"), {"body": body})
        return {"status": "recorded"}

    return app


async def _post(app: FastAPI, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://kit") as client:
        return await client.post(path)


async def _notes(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as connection:
        return list((await connection.execute(text("SELECT body FROM note"))).scalars())


@pytest.fixture
async def postgres_notes(migrated_postgres: str) -> AsyncIterator[AsyncEngine]:
    """A scratch schema whose `note` table refuses, at COMMIT, a note saying "refused"
    (a deferred constraint trigger), as a database refusing a commit would."""
    schema = f"kit_commit_{uuid.uuid4().hex[:10]}"
    setup = create_engine(migrated_postgres, pool_size=1)
    async with setup.begin() as connection:
        for statement in (
            f'CREATE SCHEMA "{schema}"',
            f'CREATE TABLE "{schema}".note (body text NOT NULL)',
            f"""CREATE FUNCTION "{schema}".refuse() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF NEW.body = 'refused' THEN RAISE EXCEPTION 'refused at commit'; END IF;
                    RETURN NEW;
                END $$""",
            f"""CREATE CONSTRAINT TRIGGER refuse_at_commit AFTER INSERT ON "{schema}".note
                DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "{schema}".refuse()""",
        ):
            await connection.execute(text(statement))
    engine = create_engine(migrated_postgres, schema=schema, pool_size=2)
    try:
        yield engine
    finally:
        await engine.dispose()
        async with setup.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await setup.dispose()


@pytest.fixture
async def sqlite_notes(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """A SQLite file whose `note` table refuses, at COMMIT, a note with no author (a
    deferred foreign key): the same refusal, on the embedded default's database."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'notes.db'}")
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE author (name TEXT PRIMARY KEY)"))
        await connection.execute(text("INSERT INTO author (name) VALUES ('kept')"))
        await connection.execute(
            text(
                "CREATE TABLE note (body TEXT NOT NULL REFERENCES author (name) "
                "DEFERRABLE INITIALLY DEFERRED)"
            )
        )
    try:
        yield engine
    finally:
        await engine.dispose()


async def _refused_commit_is_answered_as_commit_failed(engine: AsyncEngine, refused: str) -> None:
    app = _recording_app(create_sessionmaker(engine))

    assert (await _post(app, "/notes/kept")).status_code == 200
    response = await _post(app, f"/notes/{refused}")

    assert response.status_code == 503
    assert response.json() == {
        "error": "CommitFailed",
        "detail": "the change could not be saved; nothing was changed",
    }
    assert await _notes(engine) == ["kept"]


async def test_a_commit_postgresql_refuses_is_answered_as_commit_failed(
    postgres_notes: AsyncEngine,
) -> None:
    await _refused_commit_is_answered_as_commit_failed(postgres_notes, "refused")


async def test_a_commit_sqlite_refuses_is_answered_as_commit_failed(
    sqlite_notes: AsyncEngine,
) -> None:
    await _refused_commit_is_answered_as_commit_failed(sqlite_notes, "no-such-author")


@asynccontextmanager
async def _service(database_url: str, **settings: Any) -> AsyncIterator[FastAPI]:
    app = create_service_app(
        "catalogue",
        ServiceSettings.model_validate(
            {
                "database_url": database_url,
                "database_schema": "catalogue",
                "database_pool_size": 2,
                **key_settings("catalogue"),
                **settings,
            }
        ),
    )
    try:
        yield app
    finally:
        await app.state.http.aclose()
        await app.state.engine.dispose()


def _on_connect(app: FastAPI, statement: str) -> None:
    """Run `statement` on each new connection of the service's database."""

    @event.listens_for(app.state.engine.sync_engine, "connect")
    def run(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(statement)
        cursor.close()


async def _readiness(app: FastAPI) -> tuple[int, dict[str, str]]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kit") as client:
        response = await client.get("/readyz")
    return response.status_code, response.json()["checks"]


@pytest.fixture
async def unwritable_postgres_schema(migrated_postgres: str) -> AsyncIterator[str]:
    """A migrated-looking schema whose every write is refused by the database, as one
    that cannot extend its files refuses them (a trigger raising on each change)."""
    schema = f"kit_ready_{uuid.uuid4().hex[:10]}"
    setup = create_engine(migrated_postgres, pool_size=1)
    async with setup.begin() as connection:
        for statement in (
            f'CREATE SCHEMA "{schema}"',
            f'CREATE TABLE "{schema}".alembic_version (version_num varchar(32) PRIMARY KEY)',
            f"INSERT INTO \"{schema}\".alembic_version SELECT '0001'",
            f"""CREATE FUNCTION "{schema}".refuse() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN RAISE EXCEPTION 'could not extend file: No space left on device'; END $$""",
            f"""CREATE TRIGGER refuse_writes BEFORE INSERT OR UPDATE OR DELETE
                ON "{schema}".alembic_version FOR EACH ROW EXECUTE FUNCTION "{schema}".refuse()""",
        ):
            await connection.execute(text(statement))
    try:
        yield schema
    finally:
        async with setup.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await setup.dispose()


async def test_not_ready_when_postgresql_refuses_writes(
    migrated_postgres: str, unwritable_postgres_schema: str
) -> None:
    async with _service(migrated_postgres, database_schema=unwritable_postgres_schema) as app:
        status, checks = await _readiness(app)

    assert status == 503
    assert checks["database"] == "ok"
    assert checks["database_write"].startswith("unavailable: ")


@pytest.fixture
async def sqlite_service_url(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'catalogue.db'}"
    await asyncio.to_thread(upgrade, CATALOGUE_MIGRATIONS, url, None)
    return url


async def test_ready_on_a_writable_sqlite_file(sqlite_service_url: str) -> None:
    async with _service(sqlite_service_url) as app:
        status, checks = await _readiness(app)

    assert status == 200
    assert checks == {"database": "ok", "database_write": "ok"}


async def test_not_ready_when_sqlite_refuses_writes(sqlite_service_url: str) -> None:
    async with _service(sqlite_service_url) as app:
        _on_connect(app, "PRAGMA query_only = ON")

        status, checks = await _readiness(app)

    assert status == 503
    assert checks["database_write"].startswith("unavailable: ")


async def test_not_ready_when_the_sqlite_disk_is_nearly_full(sqlite_service_url: str) -> None:
    # More room than any disk has: the file's filesystem counts as full.
    async with _service(sqlite_service_url, database_min_free_bytes=2**62) as app:
        status, checks = await _readiness(app)

    assert status == 503
    assert checks["database"] == "ok"
    assert checks["database_write"] == "unavailable: DatabaseDiskFull"
