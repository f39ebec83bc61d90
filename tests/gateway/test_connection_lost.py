"""A gateway whose database connection is lost (its backend terminated, as in a
failover) answers the key it could not check, and an account's read or write it could
not make, with the typed, retryable `ServiceUnavailable` in place, never a plain-text
HTTP 500 nor a masked error, and the next request, on a fresh connection, is served."""

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

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


@asynccontextmanager
async def serving(database_url: str, *, principal_cache_seconds: float) -> AsyncIterator[Gateway]:
    settings = unattached_settings(
        database_url, principal_cache_seconds=principal_cache_seconds, database_pool_size=1
    )
    app = create_app(settings)
    admin = create_engine(database_url, pool_size=1)
    transport = httpx.ASGITransport(app=app)
    http = httpx.AsyncClient(transport=transport, base_url="http://gateway")
    try:
        yield Gateway(app, admin, GraphQLClient("/graphql", http))
    finally:
        await http.aclose()
        await admin.dispose()
        await app.state.engine.dispose()
        await app.state.http.aclose()


@pytest.fixture
async def gateway(database_url: str) -> AsyncIterator[Gateway]:
    """Checks every key in the database."""
    async with serving(database_url, principal_cache_seconds=0) as served:
        yield served


@pytest.fixture
async def caching_gateway(database_url: str) -> AsyncIterator[Gateway]:
    """Serves a key it has checked from memory: its request reaches the resolvers, whose
    own reads and writes meet the lost connection."""
    async with serving(database_url, principal_cache_seconds=300) as served:
        yield served


def unavailable(field: str, arguments: str = "") -> str:
    return (
        f"{{ {field}{arguments} {{ __typename ... on ServiceUnavailable {{ message service }} }} }}"
    )


def typed_unavailable(response: httpx.Response, field: str) -> dict[str, Any]:
    """The field's answer, which must be the gateway's typed ServiceUnavailable."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    answer: dict[str, Any] = body["data"][field]
    assert answer["__typename"] == "ServiceUnavailable", body
    assert answer["service"] == "gateway", body
    return answer


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


ACCOUNT_OPERATIONS = {
    "me": "query " + unavailable("me"),
    "systemStatus": "query " + unavailable("systemStatus"),
    "createApiKey": "mutation " + unavailable("createApiKey", '(name: "ci")'),
    "revokeApiKey": "mutation " + unavailable("revokeApiKey", f'(id: "{uuid.uuid4()}")'),
    "grantRole": "mutation "
    + unavailable("grantRole", f'(accountId: "{uuid.uuid4()}", role: CREATOR)'),
}


@pytest.mark.parametrize("field", ACCOUNT_OPERATIONS)
async def test_an_account_operation_whose_key_met_a_lost_connection_is_answered_typed(
    gateway: Gateway, field: str
) -> None:
    key = await gateway.admin_key()
    await gateway.cut_its_connection()

    response = await gateway.client.post(ACCOUNT_OPERATIONS[field], key=key)

    typed_unavailable(response, field)


async def test_a_registration_on_a_lost_connection_is_answered_typed(gateway: Gateway) -> None:
    await gateway.cut_its_connection()

    response = await gateway.client.post(
        "mutation($input: RegisterInput!) " + unavailable("register", "(input: $input)"),
        {"input": {"name": "Ada", "email": "ada@example.com", "role": "CREATOR"}},
    )

    typed_unavailable(response, "register")


ADMIN = "query { me { ... on Account { id apiKeys { ... on ApiKeyPage { items { id } } } } } }"


async def test_an_account_write_on_a_lost_connection_is_answered_typed_and_not_kept(
    caching_gateway: Gateway,
) -> None:
    gateway = caching_gateway
    key = await gateway.admin_key()
    admin = (await gateway.client.execute(ADMIN, key=key))["me"]
    key_id = admin["apiKeys"]["items"][0]["id"]
    writes = {
        "createApiKey": unavailable("createApiKey", '(name: "ci")'),
        "revokeApiKey": unavailable("revokeApiKey", f'(id: "{key_id}")'),
        "grantRole": unavailable("grantRole", f'(accountId: "{admin["id"]}", role: CREATOR)'),
    }

    for field, selection in writes.items():
        await gateway.cut_its_connection()
        response = await gateway.client.post("mutation " + selection, key=key)
        typed_unavailable(response, field)

    # None of them was kept: the one key still works, and the admin is no creator.
    after = await gateway.client.execute(
        "query { me { ... on Account { roles apiKeys { ... on ApiKeyPage { items { id } } } } } }",
        key=key,
    )
    assert after["me"]["apiKeys"]["items"] == [{"id": key_id}]
    assert after["me"]["roles"] == ["ADMIN"]


async def test_a_key_list_read_on_a_lost_connection_is_answered_typed(
    caching_gateway: Gateway,
) -> None:
    gateway = caching_gateway
    key = await gateway.admin_key()
    await gateway.client.execute(ADMIN, key=key)
    await gateway.cut_its_connection()

    response = await gateway.client.post(
        "query { me { __typename ... on Account { apiKeys { __typename "
        "... on ServiceUnavailable { message service } } } } }",
        key=key,
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    assert body["data"]["me"]["__typename"] == "Account"
    api_keys = body["data"]["me"]["apiKeys"]
    assert api_keys["__typename"] == "ServiceUnavailable", body
    assert api_keys["service"] == "gateway", body
