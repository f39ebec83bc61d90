"""A gateway whose database connection is lost (its backend terminated, as in a
failover) answers the key it could not check with the typed, retryable
`ServiceUnavailable` in place, never a plain-text HTTP 500, and the next request, on a
fresh connection, is served."""

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from gateway.accounts.service import account_service
from gateway.app import create_app
from services.kit.db import create_engine
from services.kit.migrations import upgrade
from tests.fixtures.database import fresh_database
from tests.fixtures.graphql import GraphQLClient
from tests.gateway.conftest import unattached_settings
from tests.gateway.test_accounts import ME
from tests.gateway.test_commit_failure import GATEWAY_MIGRATIONS

QUOTE = """
query($id: ID!) { quote(id: $id) {
  __typename ... on ServiceUnavailable { message service } ... on Unauthenticated { message } } }
"""


@pytest.fixture
def database_url(postgres_server: str) -> Iterator[str]:
    for url in fresh_database(postgres_server, "lost"):
        upgrade(GATEWAY_MIGRATIONS, url, "gateway")
        yield url


class Gateway:
    def __init__(self, app: FastAPI, admin: AsyncEngine, client: GraphQLClient) -> None:
        self.engine: AsyncEngine = app.state.engine
        self.sessionmaker: async_sessionmaker[AsyncSession] = app.state.sessionmaker
        self.admin = admin
        self.client = client

    async def admin_key(self) -> str:
        async with self.sessionmaker() as session:
            key = await account_service.ensure_bootstrap_admin(session, None)
            await session.commit()
        assert key is not None
        return key

    async def cut_its_connection(self) -> None:
        """Terminates the backend of the one connection the gateway's pool holds."""
        async with self.engine.connect() as connection:
            pid = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        async with self.admin.connect() as connection:
            await connection.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})


@pytest.fixture
async def gateway(database_url: str) -> AsyncIterator[Gateway]:
    settings = unattached_settings(database_url, principal_cache_seconds=0, database_pool_size=1)
    app = create_app(settings)
    admin = create_engine(database_url, pool_size=1)
    transport = httpx.ASGITransport(app=app)
    http = httpx.AsyncClient(transport=transport, base_url="http://gateway")
    yield Gateway(app, admin, GraphQLClient("/graphql", http))
    await http.aclose()
    await admin.dispose()
    await app.state.engine.dispose()
    await app.state.http.aclose()


async def test_a_key_checked_on_a_lost_connection_is_answered_service_unavailable(
    gateway: Gateway,
) -> None:
    key = await gateway.admin_key()
    await gateway.cut_its_connection()

    response = await gateway.client.post(QUOTE, {"id": "0"}, key=key)

    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    assert body["data"]["quote"]["__typename"] == "ServiceUnavailable"
    assert body["data"]["quote"]["service"] == "gateway"
    # The broken connection was discarded: the key is checked again on a fresh one.
    again = await gateway.client.post(ME, {}, key=key)
    assert again.json()["data"]["me"]["__typename"] == "Account"
