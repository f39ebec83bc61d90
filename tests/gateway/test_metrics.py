"""Prometheus metrics, as an operator's scraper reads them: every answer counted by its
route's template, GraphQL operations by their root field, the outbox's backlog per
receiver; served on a port of their own and absent from the public one."""

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import generate_latest
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.app import create_app
from tests.fixtures.database import join_test_transaction
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.storage import free_port
from tests.gateway.conftest import unattached_settings

REGISTER = """mutation { register(input: {name: "Metered Lab", email: "metered@example.org",
  role: BUYER}) { __typename } }"""


@pytest.fixture
async def metered(migrated_postgres: str, gateway_session: AsyncSession) -> AsyncIterator[FastAPI]:
    app = create_app(unattached_settings(migrated_postgres, metrics_port=free_port()))
    await join_test_transaction(app, gateway_session)
    yield app
    await app.state.engine.dispose()
    await app.state.http.aclose()


def _scraped(app: FastAPI) -> str:
    return generate_latest(app.state.metrics.registry).decode()


async def test_answers_and_operations_are_counted_by_template_and_root_field(
    metered: FastAPI,
) -> None:
    transport = httpx.ASGITransport(app=metered)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        client = GraphQLClient("/graphql", http)
        await client.post("{ me { __typename } }", {})
        await client.post(REGISTER, {})
        missing = await http.get("/portal/no-such-file.js")
        public_metrics = await http.get("/metrics")

    scraped = _scraped(metered)
    assert missing.status_code == 404
    assert public_metrics.status_code == 404
    assert (
        'assent_http_requests_total{method="POST",route="/graphql",service="gateway",'
        'status="200"} 2.0' in scraped
    )
    assert 'route="/portal/{name:path}"' in scraped
    assert 'assent_graphql_operations_total{operation="query me",outcome="ok"} 1.0' in scraped
    assert 'operation="mutation register",outcome="ok"' in scraped
    assert "no-such-file" not in scraped


async def test_the_outbox_backlog_is_sampled_per_receiver(metered: FastAPI) -> None:
    transport = httpx.ASGITransport(app=metered)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        await GraphQLClient("/graphql", http).post(REGISTER, {})

    await metered.state.metrics.sample(metered.state.engine, metered.state.sessionmaker)

    scraped = _scraped(metered)
    for receiver in ("catalogue", "licensing", "audit"):
        assert f'assent_outbox_backlog{{receiver="{receiver}",service="gateway"}} 1.0' in scraped


async def test_metrics_are_served_on_their_own_port(metered: FastAPI) -> None:
    settings = metered.state.settings
    stop = metered.state.metrics.serve("127.0.0.1", settings.metrics_port)
    try:
        async with httpx.AsyncClient() as http:
            answered = await http.get(f"http://127.0.0.1:{settings.metrics_port}/metrics")
    finally:
        await asyncio.to_thread(stop)

    assert answered.status_code == 200
    assert "assent_http_request_seconds" in answered.text
