"""GraphQL abuse the limits in tests/gateway/test_limits.py do not cover yet: batches,
introspection in production mode, limits hidden in fragments, duplicated fields, deeply
nested JSON and huge variables. Each is refused or answered, never a 5xx, and cheaply."""

import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.accounts.models import Account
from gateway.app import create_app
from tests.fixtures.database import join_test_transaction
from tests.gateway.conftest import gateway_session, unattached_settings

__all__ = ["gateway_session"]

# Far above what any of these takes on a quiet machine (a few ms to 0.2 s), far below
# what an unbounded parse, validation or execution of these documents would take.
CHEAP_SECONDS = 3.0

GatewayFactory = Callable[..., FastAPI]


@pytest.fixture
async def gateway(
    migrated_postgres: str, gateway_session: AsyncSession
) -> AsyncIterator[Callable[..., Any]]:
    """Builds a gateway with the given settings (no service behind it) and posts to it."""
    apps: list[FastAPI] = []

    async def post(body: Any = None, *, content: bytes | None = None, **settings: Any) -> Any:
        app = create_app(unattached_settings(migrated_postgres, **settings))
        apps.append(app)
        await join_test_transaction(app, gateway_session)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            started = time.monotonic()
            if content is not None:
                response = await http.post(
                    "/graphql", content=content, headers={"content-type": "application/json"}
                )
            else:
                response = await http.post("/graphql", json=body)
            elapsed = time.monotonic() - started
        assert response.status_code < 500, response.text
        assert elapsed < CHEAP_SECONDS, f"{elapsed:.2f} s"
        return response

    yield post
    for app in apps:
        await app.state.engine.dispose()
        await app.state.http.aclose()


def _messages(response: httpx.Response) -> list[str]:
    return [error["message"] for error in response.json().get("errors") or []]


async def test_introspection_is_refused_in_production_mode(gateway: Any) -> None:
    schema_query = {"query": "{ __schema { types { name } } }"}
    type_query = {"query": '{ __type(name: "Query") { fields { name } } }'}

    assert (await gateway(schema_query)).json()["data"]["__schema"]["types"]
    refused = await gateway(schema_query, introspection=False)
    refused_type = await gateway(type_query, introspection=False)
    typename = await gateway({"query": "{ __typename }"}, introspection=False)

    assert refused.json()["data"] is None
    assert "introspection has been disabled" in _messages(refused)[0]
    assert "introspection has been disabled" in _messages(refused_type)[0]
    assert typename.json()["data"] == {"__typename": "Query"}


async def test_a_batch_of_operations_is_refused_and_none_of_them_runs(
    gateway: Any, gateway_session: AsyncSession
) -> None:
    register = (
        'mutation($email: String!) { register(input: {name: "Batch", email: $email, '
        "role: BUYER}) { __typename } }"
    )
    batch = [
        {"query": register, "variables": {"email": f"batch{n}@example.org"}} for n in range(500)
    ]
    accounts = select(func.count()).select_from(Account)
    before = await gateway_session.scalar(accounts)

    response = await gateway(batch)

    assert response.status_code == 400
    assert await gateway_session.scalar(accounts) == before


async def test_a_depth_hidden_in_fragments_is_still_counted(gateway: Any) -> None:
    query = """
    { me { ...A } }
    fragment A on Account { apiKeys { ...B } }
    fragment B on ApiKeyPage { items { name } }
    """

    response = await gateway({"query": query}, max_query_depth=2)

    assert "exceeds maximum operation depth of 2" in _messages(response)[0]


async def test_aliases_spread_over_fragments_are_still_counted(gateway: Any) -> None:
    first = " ".join(f"a{n}: __typename" for n in range(8))
    second = " ".join(f"b{n}: __typename" for n in range(8))
    query = f"{{ ...A ...B }} fragment A on Query {{ {first} }} fragment B on Query {{ {second} }}"

    response = await gateway({"query": query})

    assert "aliases found" in _messages(response)[0]


async def test_fragments_that_spread_themselves_are_refused(gateway: Any) -> None:
    query = "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }"

    response = await gateway({"query": query})

    assert response.json()["data"] is None
    assert "Cannot spread fragment" in _messages(response)[0]


async def test_a_field_repeated_up_to_the_token_limit_is_cheap(gateway: Any) -> None:
    repeated = " ".join("__typename" for _ in range(1_990))

    response = await gateway({"query": f"{{ {repeated} }}"})

    assert response.status_code == 200
    assert response.json().get("data") in (None, {"__typename": "Query"})


async def test_deeply_nested_json_is_refused(gateway: Any) -> None:
    depth = 100_000
    nested_body = b"[" * depth + b"]" * depth
    nested_variables = (
        b'{"query": "{ __typename }", "variables": {"v": ' + b"[" * depth + b"]" * depth + b"}}"
    )

    for content in (nested_body, nested_variables, b"\xff\xfe not json", b"\x00" * 1_000):
        response = await gateway(content=content)
        assert response.status_code == 400, response.text


async def test_huge_variables_within_the_body_limit_are_answered(gateway: Any) -> None:
    one_huge = {"query": "{ __typename }", "variables": {"v": "x" * 900_000}}
    very_many = {"query": "{ __typename }", "variables": {f"v{n}": n for n in range(50_000)}}
    deep_but_legal = {"query": "{ __typename }", "variables": {"v": _nested(200)}}

    for body in (one_huge, very_many, deep_but_legal):
        response = await gateway(body)
        assert response.json()["data"] == {"__typename": "Query"}


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"v": [value]}
    return value
