"""A page of licences through the gateway, with licensing, delivery and the catalogue in
process: what each licence points to costs one call per field for the whole page, and a
service that stalls or is down leaves its fields null with a typed error in place, the
licences themselves still answered."""

import asyncio
import contextlib
import os
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.accounts.service import account_service
from gateway.app import create_app as create_gateway_app
from gateway.config import Settings as GatewaySettings
from services.contracts.roles import Role
from services.delivery.builder import DeliveryBuilder
from services.kit import app as services_kit_app
from services.kit.client import HttpxTransport
from storage import ObjectStore
from storage.keys import work_version_key
from tests.fixtures.database import connect_rolled_back, join_test_transaction
from tests.fixtures.graphql import GraphQLClient
from tests.fixtures.internal_keys import key_settings
from tests.services.catalogue.helpers import Actor
from tests.services.catalogue.helpers import Api as CatalogueApi
from tests.services.delivery.conftest import (
    shared_catalogue_app,
    shared_delivery_app,
    shared_storage_settings,
)
from tests.services.delivery.helpers import DeliveryApi, licence_granted, licence_line
from tests.services.licensing.conftest import catalogue_app, licensing_app
from tests.services.licensing.helpers import Api as LicensingApi
from tests.services.licensing.helpers import listed_work

__all__ = [
    "catalogue_app",
    "licensing_app",
    "shared_catalogue_app",
    "shared_delivery_app",
    "shared_storage_settings",
]

LICENCES = 6
ADMIN = Actor(subject=str(uuid.uuid4()), roles=frozenset({Role.ADMIN}), name="Admin")
PAGE = f"""{{ licences(first: {LICENCES}) {{ __typename ... on LicenceConnection {{ items {{
  id delivery {{ id status manifest files(first: 10) {{ items {{ fingerprint }} }} }} }} }} }} }}"""
# One licence: the test's apps share one connection per database, which does not take
# the certificate calls licensing answers side by side.
CERTIFICATE = """{ licences(first: 1) { ... on LicenceConnection { items { id certificate } } } }"""


@dataclass
class Marketplace:
    """A buyer with `LICENCES` licences, each delivered, and its gateway key."""

    key: str
    licence_ids: list[str]


async def _rolled_back(url: str, schema: str) -> AsyncIterator[AsyncSession]:
    async for session in connect_rolled_back(url, schema):
        yield session


@pytest.fixture
async def sessions(migrated_postgres: str) -> AsyncIterator[dict[str, AsyncSession]]:
    opened = {
        schema: _rolled_back(migrated_postgres, schema)
        for schema in ("gateway", "catalogue", "licensing", "delivery")
    }
    try:
        yield {schema: await anext(session) for schema, session in opened.items()}
    finally:
        for session in reversed(opened.values()):
            with contextlib.suppress(StopAsyncIteration):
                await anext(session)


@pytest.fixture
async def marketplace(
    sessions: dict[str, AsyncSession],
    catalogue_app: FastAPI,
    licensing_app: FastAPI,
    shared_delivery_app: FastAPI,
) -> Marketplace:
    for app, schema in [
        (catalogue_app, "catalogue"),
        (licensing_app, "licensing"),
        (shared_delivery_app, "delivery"),
    ]:
        await join_test_transaction(app, sessions[schema])
    account, issued = await account_service.register(
        sessions["gateway"], None, name="Fanout Lab", email="lab@fanout.test", role=Role.BUYER
    )
    buyer = Actor(subject=str(account.id), roles=frozenset({Role.BUYER}), name="Fanout Lab")
    creator = Actor(subject=str(uuid.uuid4()), roles=frozenset({Role.CREATOR}), name="Ines")
    store: ObjectStore = shared_delivery_app.state.object_store
    builder: DeliveryBuilder = shared_delivery_app.state.builder
    licence_ids = []
    async with (
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=catalogue_app), base_url="http://catalogue.test"
        ) as catalogue_http,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=licensing_app), base_url="http://licensing.test"
        ) as licensing_http,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=shared_delivery_app),
            base_url="http://delivery.test",
        ) as delivery_http,
    ):
        licensing, delivery = LicensingApi(licensing_http), DeliveryApi(delivery_http)
        await licensing.top_up(ADMIN, buyer, 1_000_000)
        for index in range(LICENCES):
            work_id = await listed_work(sessions["catalogue"], creator, title=f"Study {index}")
            [work] = await CatalogueApi(catalogue_http).ok(
                buyer, "GET", "/v1/works", params={"id": str(work_id)}
            )
            version = work["current_version"]
            key = work_version_key(work_id, uuid.UUID(version["id"]))
            await store.put(key, os.urandom(version["size"]))
            quote = await licensing.quote_works(buyer, [work_id])
            licence = await licensing.bought(buyer, quote["id"], key=f"fanout-{index}")
            licence_ids.append(licence["id"])
            granted = licence_granted(
                buyer, [licence_line(work)], licence_id=uuid.UUID(licence["id"])
            )
            await delivery.grant(granted)
    assert len(await builder.build_pending()) == LICENCES
    return Marketplace(key=issued.secret, licence_ids=licence_ids)


@contextlib.asynccontextmanager
async def gateway(
    migrated_postgres: str,
    sessions: dict[str, AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
    routed: httpx.AsyncClient,
    urls: dict[str, str],
) -> AsyncIterator[GraphQLClient]:
    """The gateway in process, its calls to the services made by `routed`."""
    monkeypatch.setattr(services_kit_app, "new_transport", lambda: HttpxTransport(routed))
    settings = GatewaySettings.model_validate(
        {
            "database_url": migrated_postgres,
            "database_schema": "gateway",
            **key_settings("gateway"),
            **{f"ASSENT_{name.upper()}_URL": url for name, url in urls.items()},
        }
    )
    app = create_gateway_app(settings)
    await join_test_transaction(app, sessions["gateway"])
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")
    try:
        yield GraphQLClient("/graphql", http)
    finally:
        await http.aclose()
        await routed.aclose()
        await app.state.engine.dispose()


def in_process(apps: dict[str, FastAPI], calls: Counter[tuple[str, str]]) -> httpx.AsyncClient:
    """An HTTP client reaching each app in process, counting the calls to each path."""

    async def count(request: httpx.Request) -> None:
        calls[(request.url.host.removesuffix(".test"), request.url.path)] += 1

    return httpx.AsyncClient(
        mounts={f"http://{name}.test": httpx.ASGITransport(app=app) for name, app in apps.items()},
        event_hooks={"request": [count]},
    )


async def test_a_page_of_licences_costs_one_call_per_field_whatever_its_size(
    migrated_postgres: str,
    sessions: dict[str, AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
    marketplace: Marketplace,
    catalogue_app: FastAPI,
    licensing_app: FastAPI,
    shared_delivery_app: FastAPI,
) -> None:
    calls: Counter[tuple[str, str]] = Counter()
    apps = {"catalogue": catalogue_app, "licensing": licensing_app, "delivery": shared_delivery_app}
    urls = {name: f"http://{name}.test" for name in (*apps, "audit")}
    async with gateway(
        migrated_postgres, sessions, monkeypatch, in_process(apps, calls), urls
    ) as client:
        data = await client.execute(PAGE, key=marketplace.key)

    items = data["licences"]["items"]
    assert sorted(item["id"] for item in items) == sorted(marketplace.licence_ids)
    for item in items:
        assert item["delivery"]["status"] == "ISSUED"
        assert item["delivery"]["manifest"]["payloadType"] == "application/vnd.in-toto+json"
        assert len(item["delivery"]["files"]["items"]) == 1
    # The page, then one call for every delivery, one for every manifest and one for
    # every first page of files: not one per licence.
    assert calls == {
        ("licensing", "/v1/licences"): 1,
        ("delivery", "/v1/deliveries"): 1,
        ("delivery", "/v1/manifests"): 1,
        ("delivery", "/v1/files"): 1,
    }


class StalledServer:
    """A real server that takes connections and never answers them."""

    def __init__(self) -> None:
        self.connections = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> str:
        async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            await reader.read()
            writer.close()

        self._server = await asyncio.start_server(hold, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *_exc: object) -> None:
        assert self._server is not None
        self._server.close()


@pytest.mark.parametrize("fault", ["stalled", "down"])
async def test_a_stalled_or_down_delivery_leaves_the_licences_answered_with_typed_errors(
    fault: str,
    migrated_postgres: str,
    sessions: dict[str, AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
    marketplace: Marketplace,
    licensing_app: FastAPI,
) -> None:
    stalled = StalledServer()
    async with stalled as stalled_url:
        delivery_url = stalled_url if fault == "stalled" else "http://127.0.0.1:9"
        routed = httpx.AsyncClient(
            mounts={"http://licensing.test": httpx.ASGITransport(app=licensing_app)},
            timeout=httpx.Timeout(0.5),
        )
        urls = {
            "catalogue": "http://127.0.0.1:9",
            "licensing": "http://licensing.test",
            "delivery": delivery_url,
            "audit": "http://127.0.0.1:9",
        }
        async with gateway(migrated_postgres, sessions, monkeypatch, routed, urls) as client:
            response = await client.post(PAGE, key=marketplace.key)
    body: dict[str, Any] = response.json()

    assert response.status_code == 200
    items = body["data"]["licences"]["items"]
    assert sorted(item["id"] for item in items) == sorted(marketplace.licence_ids)
    assert [item["delivery"] for item in items] == [None] * LICENCES
    errors = body["errors"]
    assert sorted(error["path"][2] for error in errors) == list(range(LICENCES))
    for error in errors:
        assert error["path"][::3] == ["licences", "delivery"]
        assert error["extensions"] == {
            "code": "SERVICE_UNAVAILABLE",
            "type": "ServiceUnavailable",
            "service": "delivery",
        }
    # One call for the whole page, which timed out once, not once per licence.
    assert stalled.connections == (1 if fault == "stalled" else 0)


async def test_a_licence_of_the_page_comes_with_its_certificate(
    migrated_postgres: str,
    sessions: dict[str, AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
    marketplace: Marketplace,
    licensing_app: FastAPI,
) -> None:
    routed = httpx.AsyncClient(
        mounts={"http://licensing.test": httpx.ASGITransport(app=licensing_app)}
    )
    urls = {
        "catalogue": "http://127.0.0.1:9",
        "licensing": "http://licensing.test",
        "delivery": "http://127.0.0.1:9",
        "audit": "http://127.0.0.1:9",
    }
    async with gateway(migrated_postgres, sessions, monkeypatch, routed, urls) as client:
        data = await client.execute(CERTIFICATE, key=marketplace.key)
    [item] = data["licences"]["items"]
    assert item["certificate"]["certificate"]["licence_id"] == item["id"]
    assert item["id"] in marketplace.licence_ids
