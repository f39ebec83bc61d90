"""Accounts and the platform's plumbing, with every component in its own process."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import jwt
import pytest
from alembic.script import ScriptDirectory
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.contracts.events import SUBSCRIBERS, Topic
from services.kit.internal_token import load_private_key
from services.kit.migrations import alembic_config
from services.stack import SERVICES, internal_signing_key
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.stack import RunningStack

pytestmark = pytest.mark.stack

REGISTER = """mutation($input: RegisterInput!) { register(input: $input) {
  ... on Registered { account { id } apiKey { secret key { id } } } } }"""
CREATE_KEY = """mutation { createApiKey(name: "second") {
  ... on ApiKeyCreated { apiKey { secret key { id } } } } }"""
REVOKE_KEY = """mutation($id: ID!) { revokeApiKey(id: $id) { __typename } }"""
ME = "{ me { __typename ... on Account { id name } } }"


async def register_creator(gateway: GraphQLClient, email: str) -> dict[str, Any]:
    data = await gateway.execute(
        REGISTER, {"input": {"name": "Ines Creator", "email": email, "role": "CREATOR"}}
    )
    registered: dict[str, Any] = data["register"]
    return registered


async def test_a_creator_rotates_keys_and_the_revoked_one_is_refused(
    gateway: GraphQLClient,
) -> None:
    registered = await register_creator(gateway, f"ines-{uuid.uuid4().hex[:6]}@example.org")
    first = registered["apiKey"]

    second = (await gateway.execute(CREATE_KEY, key=first["secret"]))["createApiKey"]["apiKey"]
    revoked = await gateway.execute(REVOKE_KEY, {"id": first["key"]["id"]}, key=second["secret"])

    assert revoked["revokeApiKey"]["__typename"] == "ApiKeyRevoked"
    refused = await gateway.post(ME, key=first["secret"])
    assert refused.json()["data"]["me"]["__typename"] == "Unauthenticated"
    me = (await gateway.execute(ME, key=second["secret"]))["me"]
    assert me == {
        "__typename": "Account",
        "id": registered["account"]["id"],
        "name": "Ines Creator",
    }


async def test_every_service_reports_its_schema_and_outbox(
    gateway: GraphQLClient, running_stack: RunningStack
) -> None:
    query = """{ systemStatus { ... on SystemStatus { services {
      __typename ... on ServiceHealth { service schemaRevision outboxPending } } } } }"""

    services = (await gateway.execute(query, key=running_stack.admin_key))["systemStatus"][
        "services"
    ]

    heads = {
        component.name: ScriptDirectory.from_config(
            alembic_config(component.migrations, "", None)
        ).get_current_head()
        for component in SERVICES
        if component.migrations is not None
    }
    assert {s["service"]: s["schemaRevision"] for s in services} == heads


async def test_registration_reaches_the_audit_log_once(
    gateway: GraphQLClient, running_stack: RunningStack
) -> None:
    registered = await register_creator(gateway, f"audit-{uuid.uuid4().hex[:6]}@example.org")
    account_id = registered["account"]["id"]
    dsn = running_stack.database_url.replace("postgresql+asyncpg://", "postgresql://")

    connection = await asyncpg.connect(dsn)
    try:
        for _ in range(100):
            rows = await connection.fetch(
                "SELECT e.topic, e.source FROM audit.chain_subject s "
                "JOIN audit.log_entry e USING (leaf_index) "
                "WHERE s.kind = 'account' AND s.subject_id = $1::uuid",
                account_id,
            )
            delivered = await connection.fetchval(
                "SELECT count(*) FROM gateway.outbox_delivery WHERE payload->>'account_id' = $1 "
                "AND delivered_at IS NOT NULL",
                account_id,
            )
            if rows and delivered == len(SUBSCRIBERS[Topic.ACCOUNT_REGISTERED]):
                break
            await asyncio.sleep(0.1)
    finally:
        await connection.close()

    assert [(row["topic"], row["source"]) for row in rows] == [("account.registered", "gateway")]
    # Delivered to every subscriber (the catalogue's creator directory and the audit log).
    assert delivered == len(SUBSCRIBERS[Topic.ACCOUNT_REGISTERED])


def _token(key: Ed25519PrivateKey, *, audience: str, expires_in: timedelta) -> str:
    now = datetime.now(UTC)
    claims = {
        "iss": "gateway",
        "sub": "someone",
        "aud": audience,
        "roles": ["admin"],
        "iat": now,
        "exp": now + expires_in,
    }
    return jwt.encode(claims, key, algorithm="EdDSA")


async def test_services_refuse_missing_forged_expired_and_misdirected_tokens(
    running_stack: RunningStack,
) -> None:
    setting = internal_signing_key("gateway")
    key = load_private_key(running_stack.stack.env[setting], setting=setting)
    catalogue = running_stack.stack.url(SERVICES[0])
    attempts = {
        "missing": None,
        "forged": _token(
            Ed25519PrivateKey.generate(), audience="catalogue", expires_in=timedelta(minutes=1)
        ),
        "expired": _token(key, audience="catalogue", expires_in=timedelta(minutes=-1)),
        "misdirected": _token(key, audience="licensing", expires_in=timedelta(minutes=1)),
    }

    async with httpx.AsyncClient() as client:
        answers = {}
        for name, token in attempts.items():
            headers = {"authorization": f"Bearer {token}"} if token else {}
            response = await client.get(catalogue + "/v1/status", headers=headers)
            answers[name] = (response.status_code, response.json()["error"])
        valid = _token(key, audience="catalogue", expires_in=timedelta(minutes=1))
        accepted = await client.get(
            catalogue + "/v1/status", headers={"authorization": f"Bearer {valid}"}
        )
        health = await client.get(catalogue + "/healthz")

    assert answers == {name: (401, "Unauthenticated") for name in attempts}
    assert accepted.status_code == 200
    assert health.status_code == 200


async def test_the_request_id_travels_and_no_key_reaches_the_logs(
    gateway: GraphQLClient, running_stack: RunningStack
) -> None:
    registered = await register_creator(gateway, f"logs-{uuid.uuid4().hex[:6]}@example.org")
    key = registered["apiKey"]["secret"]
    request_id = f"trace-{uuid.uuid4().hex}"
    query = "{ systemStatus { __typename } }"

    response = await gateway.http.post(
        gateway.url,
        json={"query": query},
        headers={"authorization": f"Bearer {running_stack.admin_key}", "x-request-id": request_id},
    )
    await gateway.execute(ME, key=key)
    await asyncio.sleep(0.5)  # log lines are flushed per line; give the processes a moment

    assert response.headers["x-request-id"] == request_id
    catalogue_log = (running_stack.log_dir / "catalogue.log").read_text()
    assert request_id in catalogue_log
    logs = running_stack.logs()
    assert key not in logs
    assert running_stack.admin_key not in logs
    for name in ("gateway", "catalogue", "licensing", "delivery", "audit"):
        assert running_stack.stack.env[internal_signing_key(name)] not in logs


async def test_sibling_fields_read_the_database_side_by_side(gateway: GraphQLClient) -> None:
    registered = await register_creator(gateway, f"siblings-{uuid.uuid4().hex[:6]}@example.org")
    key = registered["apiKey"]["secret"]
    keys = "apiKeys { ... on ApiKeyPage { items { name } } }"
    query = f"{{ a: me {{ ... on Account {{ {keys} }} }} b: me {{ ... on Account {{ {keys} }} }} }}"

    # On a pooled PostgreSQL engine, two resolvers sharing one session at once would fail.
    data = await gateway.execute(query, key=key)

    assert data["a"] == data["b"] == {"apiKeys": {"items": [{"name": "default"}]}}
