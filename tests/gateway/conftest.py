from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.accounts.service import account_service
from gateway.app import create_app
from gateway.config import Settings
from tests.fixtures.database import connect_rolled_back, join_test_transaction
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.internal_keys import key_settings

UNREACHABLE = "http://127.0.0.1:9"


def unattached_settings(database_url: str, **overrides: Any) -> Settings:
    """A gateway on the test database with no service behind it: a call to one must fail
    in a typed way."""
    return Settings(
        database_url=database_url,
        database_schema="gateway",
        **key_settings("gateway"),
        ASSENT_CATALOGUE_URL=UNREACHABLE,
        ASSENT_LICENSING_URL=UNREACHABLE,
        ASSENT_DELIVERY_URL=UNREACHABLE,
        ASSENT_AUDIT_URL=UNREACHABLE,
        **overrides,
    )


@pytest.fixture
async def gateway_session(migrated_postgres: str) -> AsyncIterator[AsyncSession]:
    async for session in connect_rolled_back(migrated_postgres, "gateway"):
        yield session


@pytest.fixture
async def gateway_app(
    migrated_postgres: str, gateway_session: AsyncSession
) -> AsyncIterator[FastAPI]:
    app = create_app(unattached_settings(migrated_postgres))
    await join_test_transaction(app, gateway_session)
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


@pytest.fixture
async def client(gateway_app: FastAPI) -> AsyncIterator[GraphQLClient]:
    transport = httpx.ASGITransport(app=gateway_app)
    client = GraphQLClient(
        "/graphql", httpx.AsyncClient(transport=transport, base_url="http://gateway")
    )
    yield client
    await client.http.aclose()
