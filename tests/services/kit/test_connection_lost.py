"""A database connection lost under a request (its backend terminated, as a failover or
an operator would) is answered as a typed, retryable 503, never a plain-text 500; the
broken connection is discarded, so the next request succeeds."""

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import Depends, FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.kit.db import create_engine, create_sessionmaker, get_session
from services.kit.errors import install_error_handlers


async def terminate_own_backend(session: AsyncSession, admin: AsyncEngine) -> None:
    """Ends the session's own server process from another connection, as
    `pg_terminate_backend` does to every backend of a database in a failover."""
    pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    async with admin.connect() as connection:
        await connection.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})


@pytest.fixture
async def notes_engine(migrated_postgres: str) -> AsyncIterator[AsyncEngine]:
    schema = f"kit_lost_{uuid.uuid4().hex[:10]}"
    admin = create_engine(migrated_postgres, pool_size=1)
    async with admin.begin() as connection:
        await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        await connection.execute(text(f'CREATE TABLE "{schema}".note (body text NOT NULL)'))
    engine = create_engine(migrated_postgres, schema=schema, pool_size=1)
    try:
        yield engine
    finally:
        await engine.dispose()
        async with admin.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


@pytest.fixture
async def admin_engine(migrated_postgres: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(migrated_postgres, pool_size=1)
    yield engine
    await engine.dispose()


def _notes_app(engine: AsyncEngine, admin: AsyncEngine) -> FastAPI:
    app = FastAPI()
    app.state.sessionmaker = create_sessionmaker(engine)
    install_error_handlers(app)

    @app.post("/notes/{body}")
    async def record(
        body: str,
        cut: str = "no",
        session: AsyncSession = Depends(get_session, scope="function"),
    ) -> dict[str, str]:
        if cut == "before-statement":
            await terminate_own_backend(session, admin)
        await session.execute(text("INSERT INTO note (body) VALUES (:body)"), {"body": body})
        if cut == "before-commit":
            await terminate_own_backend(session, admin)
        return {"status": "recorded"}

    @app.get("/fails")
    async def fails() -> None:
        raise RuntimeError("a bug")

    return app


async def _call(app: FastAPI, method: str, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://kit") as client:
        return await client.request(method, path)


async def _notes(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as connection:
        return list((await connection.execute(text("SELECT body FROM note"))).scalars())


async def test_a_connection_lost_during_a_statement_is_a_typed_retryable_503(
    notes_engine: AsyncEngine, admin_engine: AsyncEngine
) -> None:
    app = _notes_app(notes_engine, admin_engine)

    lost = await _call(app, "POST", "/notes/first?cut=before-statement")

    assert lost.status_code == 503
    assert lost.json()["error"] == "ServiceUnavailable"
    assert "nothing was saved" in lost.json()["detail"]
    # The pool holds one connection: the broken one was discarded, not handed out again.
    again = await _call(app, "POST", "/notes/first")
    assert again.status_code == 200, again.text
    assert await _notes(notes_engine) == ["first"]


async def test_a_connection_lost_at_commit_is_answered_as_an_unknown_outcome(
    notes_engine: AsyncEngine, admin_engine: AsyncEngine
) -> None:
    app = _notes_app(notes_engine, admin_engine)

    lost = await _call(app, "POST", "/notes/maybe?cut=before-commit")

    assert lost.status_code == 503
    assert lost.json()["error"] == "CommitFailed"
    # Neither success nor "nothing was changed": the client is told to read back or retry.
    assert "may or may not have been saved" in lost.json()["detail"]
    assert "nothing was changed" not in lost.json()["detail"]
    again = await _call(app, "POST", "/notes/retried")
    assert again.status_code == 200, again.text
    assert await _notes(notes_engine) == ["retried"]


async def test_an_unexpected_error_is_answered_in_the_error_shape(
    notes_engine: AsyncEngine, admin_engine: AsyncEngine
) -> None:
    failed = await _call(_notes_app(notes_engine, admin_engine), "GET", "/fails")

    assert failed.status_code == 500
    assert failed.json()["error"] == "InternalError"


async def test_a_connection_the_server_refuses_is_a_typed_retryable_503(
    notes_engine: AsyncEngine, admin_engine: AsyncEngine
) -> None:
    """A server at its connection limit refuses the request's connection: as retryable as
    a lost one (here a role allowed no connection stands in for the full server)."""
    role = f"kit_refused_{uuid.uuid4().hex[:8]}"
    async with admin_engine.begin() as connection:
        await connection.execute(text(f'CREATE ROLE "{role}" LOGIN CONNECTION LIMIT 0'))
    refused = create_engine(
        notes_engine.url.set(username=role).render_as_string(hide_password=False), pool_size=1
    )
    try:
        answer = await _call(_notes_app(refused, admin_engine), "POST", "/notes/refused")
    finally:
        await refused.dispose()
        async with admin_engine.begin() as connection:
            await connection.execute(text(f'DROP ROLE "{role}"'))

    assert answer.status_code == 503
    assert answer.json()["error"] == "ServiceUnavailable"
