"""One operation of several mutations, on a gateway that really commits, with licensing
in process: every success the answer gives was kept, and no failure it gives kept
anything. An error placed at a nested field (the delivery of a licence just bought, with
delivery stalled or down) is no failure of the mutations beside it, nor is a later
mutation refused with a typed union member."""

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.app import create_app
from gateway.config import Settings
from services.contracts.roles import Role
from services.kit import app as services_kit_app
from services.kit.client import HttpxTransport
from services.kit.migrations import upgrade
from tests.fixtures.database import connect_rolled_back, fresh_database, join_test_transaction
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.internal_keys import key_settings
from tests.gateway.test_accounts import CREATE_KEY, ME, REGISTER
from tests.gateway.test_commit_failure import GATEWAY_MIGRATIONS
from tests.gateway.test_fanout import StalledServer
from tests.services.catalogue.helpers import Actor
from tests.services.licensing.conftest import catalogue_app, licensing_app
from tests.services.licensing.helpers import Api as LicensingApi
from tests.services.licensing.helpers import listed_work

__all__ = ["catalogue_app", "licensing_app"]

LICENSING_URL = "http://licensing.test"
DOWN = "http://127.0.0.1:9"
ADMIN = Actor(subject=str(uuid.uuid4()), roles=frozenset({Role.ADMIN}), name="Admin")
REVOKE_AND_BUY = """
mutation RevokeAndBuy($keyId: ID!, $quoteId: ID!, $idempotencyKey: String!) {
  revokeApiKey(id: $keyId) { __typename ... on ApiKeyRevoked { key { id revokedAt } } }
  purchase(quoteId: $quoteId, idempotencyKey: $idempotencyKey) {
    __typename ... on PurchaseSucceeded { replayed licence { id delivery { status } } }
  }
}
"""
BUY = """
mutation Buy($quoteId: ID!, $idempotencyKey: String!) {
  purchase(quoteId: $quoteId, idempotencyKey: $idempotencyKey) {
    __typename ... on PurchaseSucceeded { replayed licence { id } }
  }
}
"""
LICENCES = "{ licences(first: 10) { __typename ... on LicenceConnection { items { id } } } }"


@pytest.fixture(scope="module")
def gateway_database(postgres_server: str) -> Iterator[str]:
    """A migrated gateway database no test transaction wraps: the gateway's commits and
    rollbacks are real, and outlive the request."""
    for url in fresh_database(postgres_server, "partial"):
        upgrade(GATEWAY_MIGRATIONS, url, "gateway")
        yield url


@pytest.fixture
async def services(
    migrated_postgres: str, catalogue_app: FastAPI, licensing_app: FastAPI
) -> AsyncIterator[dict[str, AsyncSession]]:
    """Catalogue and licensing in process, each joining a transaction of the test's."""
    opened = {
        schema: connect_rolled_back(migrated_postgres, schema)
        for schema in ("catalogue", "licensing")
    }
    sessions = {schema: await anext(session) for schema, session in opened.items()}
    await join_test_transaction(catalogue_app, sessions["catalogue"])
    await join_test_transaction(licensing_app, sessions["licensing"])
    try:
        yield sessions
    finally:
        for session in reversed(opened.values()):
            with contextlib.suppress(StopAsyncIteration):
                await anext(session)


@contextlib.asynccontextmanager
async def gateway(
    database_url: str, licensing_app: FastAPI, delivery_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[GraphQLClient]:
    """A gateway process of its own on `database_url`, licensing reached in process."""

    def routed() -> HttpxTransport:
        # Short, for the stalled delivery; calls to the app in process are not timed.
        client = httpx.AsyncClient(
            mounts={LICENSING_URL: httpx.ASGITransport(app=licensing_app)},
            timeout=httpx.Timeout(0.5),
        )
        return HttpxTransport(client)

    monkeypatch.setattr(services_kit_app, "new_transport", routed)
    settings = Settings.model_validate(
        {
            "database_url": database_url,
            "database_schema": "gateway",
            **key_settings("gateway"),
            "ASSENT_CATALOGUE_URL": DOWN,
            "ASSENT_LICENSING_URL": LICENSING_URL,
            "ASSENT_DELIVERY_URL": delivery_url,
            "ASSENT_AUDIT_URL": DOWN,
        }
    )
    app = create_app(settings)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")
    try:
        yield GraphQLClient("/graphql", http)
    finally:
        await http.aclose()
        await app.state.http.aclose()
        await app.state.engine.dispose()


@dataclass
class Buyer:
    """An account with two keys (the first signed in once, so the gateway has it cached)
    and a quote of one work."""

    revocable_key: str
    revocable_key_id: str
    key: str
    quote_id: str


async def buyer_with_a_quote(
    client: GraphQLClient,
    licensing_app: FastAPI,
    catalogue_session: AsyncSession,
    *,
    funds_minor: int,
) -> Buyer:
    account = {"name": "Lab", "email": f"{uuid.uuid4().hex}@lab.example", "role": "BUYER"}
    registered = (await client.execute(REGISTER, {"input": account}))["register"]
    first = registered["apiKey"]
    created = await client.execute(CREATE_KEY, {"name": "second"}, key=first["secret"])
    assert (await client.execute(ME, key=first["secret"]))["me"]["__typename"] == "Account"

    buyer = Actor(subject=registered["account"]["id"], roles=frozenset({Role.BUYER}), name="Lab")
    creator = Actor(subject=str(uuid.uuid4()), roles=frozenset({Role.CREATOR}), name="Ines")
    work_id = await listed_work(catalogue_session, creator, title="Study")
    transport = httpx.ASGITransport(app=licensing_app)
    async with httpx.AsyncClient(transport=transport, base_url=LICENSING_URL) as http:
        licensing = LicensingApi(http)
        if funds_minor:
            await licensing.top_up(ADMIN, buyer, funds_minor)
        quote = await licensing.quote_works(buyer, [work_id])
    return Buyer(
        revocable_key=first["secret"],
        revocable_key_id=first["key"]["id"],
        key=created["createApiKey"]["apiKey"]["secret"],
        quote_id=quote["id"],
    )


async def signs_in(client: GraphQLClient, key: str) -> bool:
    me = (await client.execute(ME, key=key))["me"]
    assert me["__typename"] in {"Account", "Unauthenticated"}
    return bool(me["__typename"] == "Account")


async def licence_ids(client: GraphQLClient, key: str) -> list[str]:
    page = (await client.execute(LICENCES, key=key))["licences"]
    return [item["id"] for item in page["items"]]


@pytest.mark.parametrize("fault", ["stalled", "down"])
async def test_a_placed_error_under_a_purchase_keeps_the_revocation_before_it(
    fault: str,
    gateway_database: str,
    services: dict[str, AsyncSession],
    licensing_app: FastAPI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with contextlib.AsyncExitStack() as stack:
        stalled = await stack.enter_async_context(StalledServer())
        delivery_url = stalled if fault == "stalled" else DOWN
        client = await stack.enter_async_context(
            gateway(gateway_database, licensing_app, delivery_url, monkeypatch)
        )
        buyer = await buyer_with_a_quote(
            client, licensing_app, services["catalogue"], funds_minor=1_000_000
        )
        variables = {
            "keyId": buyer.revocable_key_id,
            "quoteId": buyer.quote_id,
            "idempotencyKey": f"partial-{fault}",
        }
        response = await client.post(REVOKE_AND_BUY, variables, key=buyer.key)
        body: dict[str, Any] = response.json()
        revoked_key_signs_in = await signs_in(client, buyer.revocable_key)
        retried = (
            await client.execute(
                BUY, {k: variables[k] for k in ("quoteId", "idempotencyKey")}, key=buyer.key
            )
        )["purchase"]
        bought = await licence_ids(client, buyer.key)

    assert response.status_code == 200
    revoked, purchase = body["data"]["revokeApiKey"], body["data"]["purchase"]
    assert revoked["__typename"] == "ApiKeyRevoked"
    assert revoked["key"]["id"] == buyer.revocable_key_id
    assert revoked["key"]["revokedAt"] is not None
    assert purchase["__typename"] == "PurchaseSucceeded"
    assert purchase["replayed"] is False
    assert purchase["licence"]["delivery"] is None
    [placed] = body["errors"]
    assert placed["path"] == ["purchase", "licence", "delivery"]
    assert placed["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    # Answered as revoked, so refused from then on: the revocation was committed.
    assert revoked_key_signs_in is False
    # Answered as bought, so bought once: a retry replays the licence, the only one.
    licence_id = purchase["licence"]["id"]
    assert retried == {
        "__typename": "PurchaseSucceeded",
        "replayed": True,
        "licence": {"id": licence_id},
    }
    assert bought == [licence_id]

    # A gateway started afresh, with nothing cached, reads the same from the database.
    async with gateway(gateway_database, licensing_app, DOWN, monkeypatch) as restarted:
        assert await signs_in(restarted, buyer.revocable_key) is False
        assert await signs_in(restarted, buyer.key) is True


async def test_a_later_mutation_refused_in_its_union_keeps_the_revocation_before_it(
    gateway_database: str,
    services: dict[str, AsyncSession],
    licensing_app: FastAPI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with gateway(gateway_database, licensing_app, DOWN, monkeypatch) as client:
        buyer = await buyer_with_a_quote(
            client, licensing_app, services["catalogue"], funds_minor=0
        )
        variables = {
            "keyId": buyer.revocable_key_id,
            "quoteId": buyer.quote_id,
            "idempotencyKey": "partial-unfunded",
        }
        data = await client.execute(REVOKE_AND_BUY, variables, key=buyer.key)
        bought = await licence_ids(client, buyer.key)

    assert data["revokeApiKey"]["__typename"] == "ApiKeyRevoked"
    assert data["purchase"] == {"__typename": "InsufficientFunds"}
    assert bought == []
    async with gateway(gateway_database, licensing_app, DOWN, monkeypatch) as restarted:
        assert await signs_in(restarted, buyer.revocable_key) is False
        assert await signs_in(restarted, buyer.key) is True
