"""A commit that fails is never answered as a success, on PostgreSQL and on SQLite, and
a key still signs in when its last-used time cannot be written.

Each failure is real and happens at COMMIT: on PostgreSQL a deferred constraint trigger
that raises, on SQLite a deferred foreign key left broken by a trigger. The gateway
commits for real here, into a database of its own."""

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.app import create_app
from services.kit.db import create_engine
from services.kit.migrations import upgrade
from services.stack import DATABASE_COMPONENTS
from tests.fixtures.database import fresh_database
from tests.fixtures.graphql import GraphQLClient
from tests.gateway.conftest import unattached_settings
from tests.gateway.test_accounts import CREATE_KEY, ME, REGISTER, REVOKE_KEY

GATEWAY_MIGRATIONS = next(
    component.migrations
    for component in DATABASE_COMPONENTS
    if component.name == "gateway" and component.migrations is not None
)
REFUSE_AT_COMMIT = {
    "postgresql": [
        """CREATE FUNCTION gateway.refuse_commit() RETURNS trigger LANGUAGE plpgsql AS
           $$ BEGIN RAISE EXCEPTION 'could not extend file: No space left on device'; END $$""",
        """CREATE CONSTRAINT TRIGGER refuse_commit AFTER INSERT OR UPDATE ON gateway.api_key
           DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION gateway.refuse_commit()""",
    ],
    "sqlite": [
        """CREATE TABLE refuse_commit
           (account_id CHAR(32) REFERENCES account (id) DEFERRABLE INITIALLY DEFERRED)""",
        """CREATE TRIGGER refuse_commit_insert AFTER INSERT ON api_key
           BEGIN INSERT INTO refuse_commit VALUES ('no such account'); END""",
        """CREATE TRIGGER refuse_commit_update AFTER UPDATE ON api_key
           BEGIN INSERT INTO refuse_commit VALUES ('no such account'); END""",
    ],
}
ALLOW_COMMIT = {
    "postgresql": [
        "DROP TRIGGER refuse_commit ON gateway.api_key",
        "DROP FUNCTION gateway.refuse_commit()",
    ],
    "sqlite": [
        "DROP TRIGGER refuse_commit_insert",
        "DROP TRIGGER refuse_commit_update",
        "DROP TABLE refuse_commit",
    ],
}


@pytest.fixture(scope="module", params=["postgresql", "sqlite"])
def database(
    request: pytest.FixtureRequest, postgres_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str, str | None]]:
    """(backend, URL, schema) of a migrated gateway database no test transaction wraps."""
    backend: str = request.param
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('gateway') / 'gateway.db'}"
        upgrade(GATEWAY_MIGRATIONS, url, None)
        yield backend, url, None
        return
    for url in fresh_database(postgres_server, "commit"):
        upgrade(GATEWAY_MIGRATIONS, url, "gateway")
        yield backend, url, "gateway"


class Gateway:
    def __init__(self, backend: str, engine: AsyncEngine, client: GraphQLClient) -> None:
        self.backend = backend
        self.engine = engine
        self.client = client

    async def refuse_commits(self, refuse: bool) -> None:
        statements = (REFUSE_AT_COMMIT if refuse else ALLOW_COMMIT)[self.backend]
        async with self.engine.begin() as connection:
            for statement in statements:
                await connection.execute(text(statement))

    async def scalar(self, statement: str, **parameters: Any) -> Any:
        async with self.engine.connect() as connection:
            return (await connection.execute(text(statement), parameters)).scalar()


@pytest.fixture
async def gateway(database: tuple[str, str, str | None]) -> AsyncIterator[Gateway]:
    backend, url, schema = database
    settings = unattached_settings(
        url, last_used_resolution_seconds=0, principal_cache_seconds=0
    ).model_copy(update={"database_schema": schema})
    app = create_app(settings)
    engine = create_engine(url, schema=schema, pool_size=1)
    transport = httpx.ASGITransport(app=app)
    http = httpx.AsyncClient(transport=transport, base_url="http://gateway")
    yield Gateway(backend, engine, GraphQLClient("/graphql", http))
    await http.aclose()
    await engine.dispose()
    await app.state.engine.dispose()
    await app.state.http.aclose()


async def register(gateway: Gateway, email: str) -> httpx.Response:
    variables = {"input": {"name": "Lab", "email": email, "role": "BUYER"}}
    return await gateway.client.post(REGISTER, variables)


def assert_commit_failed(response: httpx.Response) -> None:
    body = response.json()
    assert body["data"] is None
    assert [error["extensions"] for error in body["errors"]] == [{"code": "COMMIT_FAILED"}]
    assert "No space" not in response.text


async def test_a_registration_whose_commit_fails_answers_an_error_and_keeps_nothing(
    gateway: Gateway,
) -> None:
    email = f"refused-{gateway.backend}@lab.example"
    await gateway.refuse_commits(True)
    try:
        response = await register(gateway, email)
    finally:
        await gateway.refuse_commits(False)

    assert_commit_failed(response)
    stored = "SELECT count(*) FROM account WHERE email = :email"
    assert await gateway.scalar(stored, email=email) == 0


async def test_a_revocation_whose_commit_fails_answers_an_error_and_the_key_still_works(
    gateway: Gateway,
) -> None:
    registered = (await register(gateway, f"revoker-{gateway.backend}@lab.example")).json()
    first = registered["data"]["register"]["apiKey"]
    created = await gateway.client.execute(CREATE_KEY, {"name": "second"}, key=first["secret"])
    second = created["createApiKey"]["apiKey"]["secret"]

    await gateway.refuse_commits(True)
    try:
        response = await gateway.client.post(REVOKE_KEY, {"id": first["key"]["id"]}, key=second)
        signed_in = await gateway.client.execute(ME, key=first["secret"])
    finally:
        await gateway.refuse_commits(False)

    assert_commit_failed(response)
    assert signed_in["me"]["__typename"] == "Account"
    revoked_at = "SELECT revoked_at FROM api_key WHERE prefix = :prefix"
    assert await gateway.scalar(revoked_at, prefix=first["key"]["prefix"]) is None


async def test_a_key_signs_in_when_its_last_use_cannot_be_written(gateway: Gateway) -> None:
    registered = (await register(gateway, f"stamp-{gateway.backend}@lab.example")).json()
    key = registered["data"]["register"]["apiKey"]
    last_used = "SELECT last_used_at FROM api_key WHERE prefix = :prefix"
    await asyncio.sleep(0.01)
    before = await gateway.scalar(last_used, prefix=key["key"]["prefix"])

    await gateway.refuse_commits(True)
    try:
        response = await gateway.client.post(ME, key=key["secret"])
    finally:
        await gateway.refuse_commits(False)

    assert response.status_code == 200
    assert response.json()["data"]["me"]["__typename"] == "Account"
    assert await gateway.scalar(last_used, prefix=key["key"]["prefix"]) == before


REFUSE_WRITES = {
    "postgresql": [
        """CREATE FUNCTION gateway.refuse_write() RETURNS trigger LANGUAGE plpgsql AS
           $$ BEGIN RAISE EXCEPTION 'could not extend file: No space left on device'; END $$""",
        """CREATE TRIGGER refuse_write BEFORE UPDATE ON gateway.alembic_version
           FOR EACH ROW EXECUTE FUNCTION gateway.refuse_write()""",
    ],
    "sqlite": [
        """CREATE TRIGGER refuse_write BEFORE UPDATE ON alembic_version
           BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END""",
    ],
}
ALLOW_WRITES = {
    "postgresql": [
        "DROP TRIGGER refuse_write ON gateway.alembic_version",
        "DROP FUNCTION gateway.refuse_write()",
    ],
    "sqlite": ["DROP TRIGGER refuse_write"],
}


async def test_readiness_reports_a_gateway_that_cannot_write(gateway: Gateway) -> None:
    ready = await gateway.client.http.get("/readyz")
    async with gateway.engine.begin() as connection:
        for statement in REFUSE_WRITES[gateway.backend]:
            await connection.execute(text(statement))
    try:
        unready = await gateway.client.http.get("/readyz")
    finally:
        async with gateway.engine.begin() as connection:
            for statement in ALLOW_WRITES[gateway.backend]:
                await connection.execute(text(statement))

    assert ready.status_code == 200
    assert unready.status_code == 503
    assert unready.json()["checks"]["database"] == "ok"
    assert unready.json()["checks"]["database_write"].startswith("unavailable")
