import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.accounts.service import account_service
from gateway.app import create_app
from gateway.config import Settings
from tests.fixtures.database import connect_rolled_back

UNREACHABLE = "http://127.0.0.1:9"


@pytest.fixture
async def gateway_session(migrated_postgres: str) -> AsyncIterator[AsyncSession]:
    async for session in connect_rolled_back(migrated_postgres, "gateway"):
        yield session


@pytest.fixture
async def gateway_app(
    migrated_postgres: str, gateway_session: AsyncSession
) -> AsyncIterator[FastAPI]:
    settings = Settings(
        database_url=migrated_postgres,
        database_schema="gateway",
        ASSENT_INTERNAL_TOKEN_SECRET=secrets.token_urlsafe(32),
        # No service runs in these tests: calls to one must fail in a typed way.
        ASSENT_CATALOGUE_URL=UNREACHABLE,
        ASSENT_LICENSING_URL=UNREACHABLE,
        ASSENT_DELIVERY_URL=UNREACHABLE,
        ASSENT_AUDIT_URL=UNREACHABLE,
    )
    app = create_app(settings)
    connection = await gateway_session.connection()
    # Every session of the app joins the test's transaction, rolled back at the end.
    app.state.sessionmaker = async_sessionmaker(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )
    yield app
    await app.state.engine.dispose()
    await app.state.http.aclose()


@pytest.fixture
async def admin_key(gateway_app: FastAPI) -> str:
    async with gateway_app.state.sessionmaker() as session:
        key = await account_service.ensure_bootstrap_admin(session, None)
        await session.commit()
    assert key is not None
    return key


class Client:
    def __init__(self, app: FastAPI) -> None:
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway"
        )

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, *, key: str | None = None
    ) -> httpx.Response:
        headers = {"authorization": f"Bearer {key}"} if key else {}
        return await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )

    async def data(
        self, query: str, variables: dict[str, Any] | None = None, *, key: str | None = None
    ) -> dict[str, Any]:
        response = await self.post(query, variables, key=key)
        body: dict[str, Any] = response.json()
        assert response.status_code == 200, body
        assert not body.get("errors"), body
        result: dict[str, Any] = body["data"]
        return result


@pytest.fixture
async def client(gateway_app: FastAPI) -> AsyncIterator[Client]:
    client = Client(gateway_app)
    yield client
    await client.http.aclose()
