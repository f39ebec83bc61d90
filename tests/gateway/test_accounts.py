from typing import Any

from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.accounts.keys import generate_key, hash_key
from gateway.accounts.models import Account, ApiKey
from gateway.accounts.service import account_service
from services.kit.outbox import OutboxDelivery
from tests.fixtures.graphql import GraphQLClient

REGISTER = """
mutation Register($input: RegisterInput!) {
  register(input: $input) {
    __typename
    ... on Registered { account { id name email roles } apiKey { secret key { id prefix } } }
    ... on ValidationFailed { message fields { field message code } }
    ... on Forbidden { message }
  }
}
"""
ME = """
query { me { __typename ... on Account { id name roles apiKeys { ... on ApiKeyPage { items { id name prefix revokedAt lastUsedAt } } } }
             ... on Unauthenticated { message } } }
"""
CREATE_KEY = """
mutation($name: String!) { createApiKey(name: $name) {
  __typename ... on ApiKeyCreated { apiKey { secret key { id name prefix } } }
  ... on ValidationFailed { fields { field code } } ... on Unauthenticated { message } } }
"""
REVOKE_KEY = """
mutation($id: ID!) { revokeApiKey(id: $id) {
  __typename ... on ApiKeyRevoked { key { id revokedAt } } ... on NotFound { message } } }
"""


async def register(
    client: GraphQLClient, name: str, email: str, role: str = "CREATOR", *, key: str | None = None
) -> dict[str, Any]:
    data = await client.execute(
        REGISTER, {"input": {"name": name, "email": email, "role": role}}, key=key
    )
    result: dict[str, Any] = data["register"]
    return result


async def count(session: AsyncSession, model: type[Any]) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_creator_registers_and_signs_in_with_the_key_shown_once(
    client: GraphQLClient,
) -> None:
    registered = await register(client, "Ada Lovelace", "Ada@Example.org")

    assert registered["__typename"] == "Registered"
    assert registered["account"]["roles"] == ["CREATOR"]
    assert registered["account"]["email"] == "ada@example.org"
    secret = registered["apiKey"]["secret"]
    assert secret.startswith(registered["apiKey"]["key"]["prefix"] + "_")
    me = (await client.execute(ME, key=secret))["me"]
    assert me["__typename"] == "Account"
    assert me["id"] == registered["account"]["id"]
    assert [key["prefix"] for key in me["apiKeys"]["items"]] == [
        registered["apiKey"]["key"]["prefix"]
    ]
    # The listing never shows the secret again, and using the key stamped its last use.
    assert "secret" not in me["apiKeys"]["items"][0]
    assert me["apiKeys"]["items"][0]["lastUsedAt"] is not None


async def test_keys_are_stored_only_as_hashes(
    client: GraphQLClient, gateway_session: AsyncSession
) -> None:
    secret = (await register(client, "Grace", "grace@example.org"))["apiKey"]["secret"]

    stored = (await gateway_session.scalars(select(ApiKey))).all()
    assert [key.secret_hash for key in stored] == [hash_key(secret)]
    assert all(secret not in str(value) for key in stored for value in vars(key).values())


async def test_a_revoked_key_is_refused_and_a_new_key_works(client: GraphQLClient) -> None:
    first = (await register(client, "Lab One", "ml@lab.example", "BUYER"))["apiKey"]
    created = (await client.execute(CREATE_KEY, {"name": "ci"}, key=first["secret"]))[
        "createApiKey"
    ]
    second = created["apiKey"]["secret"]

    revoked = (await client.execute(REVOKE_KEY, {"id": first["key"]["id"]}, key=second))[
        "revokeApiKey"
    ]

    assert revoked["__typename"] == "ApiKeyRevoked"
    refused = (await client.execute(ME, key=first["secret"]))["me"]
    assert refused == {
        "__typename": "Unauthenticated",
        "message": "the API key is not valid or has been revoked",
    }
    assert (await client.execute(ME, key=second))["me"]["__typename"] == "Account"


async def test_an_unknown_key_is_answered_as_no_key_is(client: GraphQLClient) -> None:
    unknown = await client.post(ME, key="assent_AAAAAAAA_" + "A" * 40)
    missing = await client.post(ME)

    assert unknown.status_code == missing.status_code == 200
    assert unknown.json()["data"]["me"]["__typename"] == "Unauthenticated"
    assert missing.json()["data"]["me"]["__typename"] == "Unauthenticated"
    assert unknown.json()["data"]["me"]["message"] == "the API key is not valid or has been revoked"


async def test_without_a_key_me_says_unauthenticated(client: GraphQLClient) -> None:
    assert (await client.execute(ME))["me"]["__typename"] == "Unauthenticated"


async def test_nobody_revokes_another_accounts_key(client: GraphQLClient) -> None:
    victim = (await register(client, "Victim", "victim@example.org"))["apiKey"]
    attacker = (await register(client, "Attacker", "attacker@example.org"))["apiKey"]

    result = (
        await client.execute(REVOKE_KEY, {"id": victim["key"]["id"]}, key=attacker["secret"])
    )["revokeApiKey"]

    assert result["__typename"] == "NotFound"
    assert (await client.execute(ME, key=victim["secret"]))["me"]["__typename"] == "Account"


async def test_bad_registrations_are_refused_and_write_nothing(
    client: GraphQLClient, gateway_session: AsyncSession
) -> None:
    accounts_before = await count(gateway_session, Account)

    bad = await register(client, "  ", "not-an-email")
    await register(client, "First", "taken@example.org")
    taken = await register(client, "Second", "TAKEN@example.org")

    assert bad["__typename"] == "ValidationFailed"
    assert {(f["field"], f["code"]) for f in bad["fields"]} == {
        ("name", "length"),
        ("email", "invalid"),
    }
    assert [(f["field"], f["code"]) for f in taken["fields"]] == [("email", "taken")]
    assert await count(gateway_session, Account) == accounts_before + 1


async def test_only_an_admin_creates_auditors_and_admins(
    client: GraphQLClient, admin_key: str
) -> None:
    creator = (await register(client, "Creator", "creator@example.org"))["apiKey"]["secret"]

    anonymous = await register(client, "Self-made auditor", "aud1@example.org", "AUDITOR")
    by_creator = await register(
        client, "Auditor by creator", "aud2@example.org", "AUDITOR", key=creator
    )
    by_admin = await register(client, "Real auditor", "aud3@example.org", "AUDITOR", key=admin_key)

    assert anonymous["__typename"] == "Forbidden"
    assert by_creator["__typename"] == "Forbidden"
    assert by_admin["__typename"] == "Registered"
    assert by_admin["account"]["roles"] == ["AUDITOR"]


async def test_grant_role_is_for_admins(client: GraphQLClient, admin_key: str) -> None:
    buyer = await register(client, "Lab", "lab@example.org", "BUYER")
    grant = """mutation($id: ID!) { grantRole(accountId: $id, role: ADMIN) {
      __typename ... on RoleGranted { account { roles } } } }"""

    denied = await client.execute(
        grant, {"id": buyer["account"]["id"]}, key=buyer["apiKey"]["secret"]
    )
    granted = await client.execute(grant, {"id": buyer["account"]["id"]}, key=admin_key)

    assert denied["grantRole"]["__typename"] == "Forbidden"
    assert granted["grantRole"]["account"]["roles"] == ["ADMIN", "BUYER"]


async def test_registration_is_announced_through_the_outbox(
    client: GraphQLClient, gateway_session: AsyncSession
) -> None:
    account_id = (await register(client, "Noor", "noor@example.org"))["account"]["id"]

    rows = (await gateway_session.scalars(select(OutboxDelivery))).all()
    announced = [row for row in rows if row.payload["account_id"] == account_id]
    assert sorted((row.topic, row.destination, row.delivered_at) for row in announced) == [
        ("account.registered", "audit", None),
        ("account.registered", "catalogue", None),
        ("account.registered", "licensing", None),
    ]


async def test_api_keys_page_by_cursor(client: GraphQLClient) -> None:
    secret = (await register(client, "Many keys", "keys@example.org"))["apiKey"]["secret"]
    for index in range(4):
        await client.execute(CREATE_KEY, {"name": f"key {index}"}, key=secret)
    page = """query($after: String) { me { ... on Account {
      apiKeys(first: 2, after: $after) { ... on ApiKeyPage { items { name } nextCursor } } } } }"""

    names: list[str] = []
    after = None
    while True:
        keys = (await client.execute(page, {"after": after}, key=secret))["me"]["apiKeys"]
        names += [item["name"] for item in keys["items"]]
        if (after := keys["nextCursor"]) is None:
            break

    assert names == ["default", "key 0", "key 1", "key 2", "key 3"]


async def test_an_unreachable_service_is_a_typed_failure(
    client: GraphQLClient, admin_key: str
) -> None:
    query = """{ systemStatus { __typename ... on SystemStatus { services {
      __typename ... on ServiceUnavailable { service message } } } } }"""

    status = (await client.execute(query, key=admin_key))["systemStatus"]

    assert status["__typename"] == "SystemStatus"
    assert {s["service"] for s in status["services"]} == {
        "catalogue",
        "licensing",
        "delivery",
        "audit",
    }
    assert {s["__typename"] for s in status["services"]} == {"ServiceUnavailable"}


async def test_system_status_is_for_admins(client: GraphQLClient) -> None:
    secret = (await register(client, "Curious", "curious@example.org"))["apiKey"]["secret"]

    result = await client.execute("{ systemStatus { __typename } }", key=secret)

    assert result["systemStatus"]["__typename"] == "Forbidden"


async def test_a_failing_mutation_keeps_the_earlier_ones_of_the_operation(
    client: GraphQLClient,
) -> None:
    secret = (await register(client, "Two at once", "two@example.org"))["apiKey"]["secret"]
    both = """mutation {
      good: createApiKey(name: "ci") { ... on ApiKeyCreated { apiKey { secret } } }
      bad: createApiKey(name: "") { __typename } }"""

    data = await client.execute(both, key=secret)

    assert data["bad"]["__typename"] == "ValidationFailed"
    created = data["good"]["apiKey"]["secret"]
    assert (await client.execute(ME, key=created))["me"]["__typename"] == "Account"


async def test_sibling_fields_share_the_session_safely(client: GraphQLClient) -> None:
    secret = (await register(client, "Siblings", "siblings@example.org"))["apiKey"]["secret"]
    query = """{ a: me { ... on Account { apiKeys { ... on ApiKeyPage { items { name } } } } }
                 b: me { ... on Account { apiKeys { ... on ApiKeyPage { items { name } } } } } }"""

    data = await client.execute(query, key=secret)

    assert data["a"] == data["b"]
    assert data["a"]["apiKeys"]["items"] == [{"name": "default"}]


async def test_bad_page_arguments_are_a_typed_failure(client: GraphQLClient) -> None:
    secret = (await register(client, "Pager", "pager@example.org"))["apiKey"]["secret"]
    query = """query($first: Int!, $after: String) { me { ... on Account {
      apiKeys(first: $first, after: $after) { __typename ... on ValidationFailed { message } } } } }"""

    too_many = await client.execute(query, {"first": 1000}, key=secret)
    garbage = await client.execute(query, {"first": 5, "after": "zzz"}, key=secret)

    assert too_many["me"]["apiKeys"]["__typename"] == "ValidationFailed"
    assert garbage["me"]["apiKeys"]["__typename"] == "ValidationFailed"


async def test_a_new_admin_key_in_the_environment_replaces_the_old_one(
    gateway_app: FastAPI, client: GraphQLClient
) -> None:
    old, new = generate_key().secret, generate_key().secret
    for configured in (old, new):
        async with gateway_app.state.sessionmaker() as session:
            await account_service.ensure_bootstrap_admin(session, configured)
            await session.commit()

    assert (await client.execute(ME, key=old))["me"]["__typename"] == "Unauthenticated"
    assert (await client.execute(ME, key=new))["me"]["roles"] == ["ADMIN"]
