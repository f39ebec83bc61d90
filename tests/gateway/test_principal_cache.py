"""A recently authenticated key is trusted for a few seconds without a database read;
changes made through this gateway take effect at once, those made elsewhere within the
cache's lifetime."""

import asyncio
import uuid

from fastapi import FastAPI
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.accounts.cache import PrincipalCache
from gateway.accounts.models import ApiKey
from gateway.accounts.service import Principal
from services.contracts.roles import Role
from services.kit.db import utcnow
from tests.fixtures.graphql import GraphQLClient
from tests.gateway.test_accounts import ME, REVOKE_KEY, register

GRANT_ROLE = """mutation($id: ID!, $role: AccountRole!) { grantRole(accountId: $id, role: $role) {
  __typename } }"""


async def test_a_key_revoked_through_this_gateway_is_refused_at_once(
    client: GraphQLClient,
) -> None:
    registered = await register(client, "Ada", "ada-cache@example.org")
    secret = registered["apiKey"]["secret"]
    assert (await client.execute(ME, key=secret))["me"]["__typename"] == "Account"

    revoked = await client.execute(
        REVOKE_KEY, {"id": registered["apiKey"]["key"]["id"]}, key=secret
    )
    assert revoked["revokeApiKey"]["__typename"] == "ApiKeyRevoked"

    response = await client.post(ME, key=secret)
    assert response.json()["data"]["me"]["__typename"] == "Unauthenticated"


async def test_a_key_revoked_by_another_replica_is_refused_once_the_cache_lapses(
    gateway_app: FastAPI, client: GraphQLClient, gateway_session: AsyncSession
) -> None:
    # Short, so expiry is seen without a long wait.
    gateway_app.state.principals.ttl_seconds = 0.5
    registered = await register(client, "Grace", "grace-cache@example.org")
    secret = registered["apiKey"]["secret"]
    assert (await client.execute(ME, key=secret))["me"]["__typename"] == "Account"

    # Another replica's revocation: straight into the shared database.
    await gateway_session.execute(
        update(ApiKey)
        .where(ApiKey.id == uuid.UUID(registered["apiKey"]["key"]["id"]))
        .values(revoked_at=utcnow())
    )
    await gateway_session.flush()
    # Until the cache lapses this replica still knows the key.
    assert (await client.post(ME, key=secret)).json()["data"]["me"]["__typename"] == "Account"

    await asyncio.sleep(0.6)
    refused = (await client.post(ME, key=secret)).json()["data"]["me"]
    assert refused["__typename"] == "Unauthenticated"


async def test_a_role_granted_through_this_gateway_shows_at_once(
    client: GraphQLClient, admin_key: str
) -> None:
    registered = await register(client, "Linus", "linus-cache@example.org", role="BUYER")
    secret = registered["apiKey"]["secret"]
    assert (await client.execute(ME, key=secret))["me"]["roles"] == ["BUYER"]

    granted = await client.execute(
        GRANT_ROLE, {"id": registered["account"]["id"], "role": "CREATOR"}, key=admin_key
    )
    assert granted["grantRole"]["__typename"] == "RoleGranted"

    assert sorted((await client.execute(ME, key=secret))["me"]["roles"]) == ["BUYER", "CREATOR"]


def _principal(key_id: uuid.UUID, account_id: uuid.UUID) -> Principal:
    return Principal(
        account_id=account_id,
        key_id=key_id,
        roles=frozenset({Role.BUYER}),
        account=None,  # type: ignore[arg-type]
    )


def test_the_cache_holds_at_most_its_size_dropping_the_oldest() -> None:
    cache = PrincipalCache(ttl_seconds=60, max_entries=2)
    principals = [_principal(uuid.uuid4(), uuid.uuid4()) for _ in range(3)]
    for index, principal in enumerate(principals):
        cache.put(f"hash{index}", principal, read_in=cache.generation)

    assert cache.get("hash0") is None
    assert cache.get("hash1") is principals[1]
    assert cache.get("hash2") is principals[2]


def test_a_zero_lifetime_turns_the_cache_off() -> None:
    cache = PrincipalCache(ttl_seconds=0)
    cache.put("hash", _principal(uuid.uuid4(), uuid.uuid4()), read_in=cache.generation)
    assert cache.get("hash") is None


def test_a_key_read_before_a_revocation_is_not_cached_after_it() -> None:
    """A request read the key from the database; before it cached what it read, the key
    was revoked and forgotten: what it read is stale and must not be kept."""
    cache = PrincipalCache(ttl_seconds=60)
    principal = _principal(uuid.uuid4(), uuid.uuid4())
    read_in = cache.generation

    cache.forget_key(principal.key_id)
    cache.put("hash", principal, read_in=read_in)

    assert cache.get("hash") is None
    cache.put("hash", principal, read_in=cache.generation)
    assert cache.get("hash") is principal
