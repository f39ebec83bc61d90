"""The four services in process, as their own test suites build them (the app fixtures
are imported from those suites), each fuzzing run inside transactions rolled back at the
end, with one object of each kind that exists so cases can reach real rows.

The fuzz case counts are collected here and printed at the end of the run."""

import uuid
from collections.abc import AsyncGenerator, AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.accounts.keys import generate_key
from gateway.accounts.service import account_service
from gateway.app import create_app as create_gateway_app
from gateway.config import Settings as GatewaySettings
from gateway.schema import build_schema as create_gateway_schema
from services.audit.sequencer import Sequencer
from services.contracts.roles import Role
from services.kit import app as services_kit_app
from services.kit.client import HttpxTransport
from tests.fixtures.database import connect_rolled_back, join_test_transaction
from tests.fixtures.internal_keys import key_settings
from tests.fuzz.runner import FUZZ_CASES, GraphQLTarget, Target
from tests.services.audit import helpers as audit_events
from tests.services.audit.conftest import audit_storage_settings, shared_audit_app
from tests.services.audit.helpers import AuditApi
from tests.services.catalogue.conftest import catalogue_storage_settings, shared_app
from tests.services.catalogue.helpers import Actor, create_work, list_work
from tests.services.catalogue.helpers import Api as CatalogueApi
from tests.services.delivery.conftest import (
    CATALOGUE_URL,
    shared_catalogue_app,
    shared_delivery_app,
    shared_storage_settings,
)
from tests.services.delivery.helpers import DeliveryApi, licence_granted, licence_line
from tests.services.licensing.conftest import catalogue_app, licensing_app
from tests.services.licensing.helpers import Api as LicensingApi
from tests.services.licensing.helpers import listed_work as licensing_listed_work
from tests.services.licensing.helpers import top_up

__all__ = [
    "audit_storage_settings",
    "catalogue_app",
    "catalogue_storage_settings",
    "licensing_app",
    "shared_app",
    "shared_audit_app",
    "shared_catalogue_app",
    "shared_delivery_app",
    "shared_storage_settings",
]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not FUZZ_CASES:
        return
    terminalreporter.section("fuzz cases")
    for target, cases in sorted(FUZZ_CASES.items()):
        terminalreporter.write_line(f"{target}: {cases}")
    terminalreporter.write_line(f"total: {sum(FUZZ_CASES.values())}")


def _actor(name: str, *roles: Role) -> Actor:
    return Actor(subject=str(uuid.uuid4()), roles=frozenset(roles), name=name)


@pytest.fixture
def creator() -> Actor:
    return _actor("Fuzz Creator", Role.CREATOR)


@pytest.fixture
def buyer() -> Actor:
    return _actor("Fuzz Lab", Role.BUYER)


@pytest.fixture
def actors(creator: Actor, buyer: Actor) -> list[Actor]:
    """An admin-like caller, the ordinary owners of the seeded objects, and a service."""
    return [
        _actor("Fuzz Admin", Role.ADMIN, Role.AUDITOR),
        creator,
        buyer,
        Actor(subject="service:licensing", roles=frozenset({Role.SERVICE}), name=None),
    ]


async def _rolled_back(url: str, schema: str) -> AsyncGenerator[AsyncSession]:
    async for session in connect_rolled_back(url, schema):
        yield session


@pytest.fixture
async def catalogue_session(migrated_postgres: str) -> AsyncIterator[AsyncSession]:
    async for session in _rolled_back(migrated_postgres, "catalogue"):
        yield session


@pytest.fixture
async def listed_work_id(catalogue_session: AsyncSession, creator: Actor) -> str:
    work = await create_work(catalogue_session, owner=creator, title="Fuzzed estuary")
    await list_work(catalogue_session, work, owner=creator)
    return str(work.id)


@pytest.fixture
async def catalogue_target(
    shared_app: FastAPI,
    catalogue_session: AsyncSession,
    listed_work_id: str,
    actors: list[Actor],
) -> Target:
    await join_test_transaction(shared_app, catalogue_session)
    return Target("catalogue", shared_app, actors, {"work_id": listed_work_id})


@pytest.fixture
async def licensing_target(
    licensing_app: FastAPI,
    catalogue_app: FastAPI,
    catalogue_session: AsyncSession,
    migrated_postgres: str,
    creator: Actor,
    buyer: Actor,
    actors: list[Actor],
) -> AsyncIterator[Target]:
    async for session in _rolled_back(migrated_postgres, "licensing"):
        await join_test_transaction(licensing_app, session)
        await join_test_transaction(catalogue_app, catalogue_session)
        work_id = await licensing_listed_work(catalogue_session, creator)
        await top_up(session, buyer.id, 100_000)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=licensing_app), base_url="http://licensing.internal"
        ) as http:
            api = LicensingApi(http)
            quote = await api.quote_works(buyer, [work_id])
            licence = await api.bought(buyer, quote["id"])
        known = {
            "bundle_id": quote["bundle_id"],
            "quote_id": quote["id"],
            "licence_id": licence["id"],
        }
        yield Target("licensing", licensing_app, actors, known)


@pytest.fixture
async def delivery_target(
    shared_delivery_app: FastAPI,
    shared_catalogue_app: FastAPI,
    catalogue_session: AsyncSession,
    migrated_postgres: str,
    listed_work_id: str,
    creator: Actor,
    buyer: Actor,
    actors: list[Actor],
) -> AsyncIterator[Target]:
    async for session in _rolled_back(migrated_postgres, "delivery"):
        await join_test_transaction(shared_delivery_app, session)
        await join_test_transaction(shared_catalogue_app, catalogue_session)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=shared_catalogue_app), base_url=CATALOGUE_URL
        ) as http:
            work = await CatalogueApi(http).work(creator, listed_work_id)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=shared_delivery_app),
            base_url="http://delivery.internal",
        ) as http:
            api = DeliveryApi(http)
            granted = licence_granted(buyer, [licence_line(work)])
            await api.grant(granted)
            delivery = await api.delivery_of(buyer, granted.licence_id)
        yield Target("delivery", shared_delivery_app, actors, {"delivery_id": delivery["id"]})


@pytest.fixture
async def audit_target(
    shared_audit_app: FastAPI,
    migrated_postgres: str,
    creator: Actor,
    buyer: Actor,
    actors: list[Actor],
) -> AsyncIterator[Target]:
    work_id, licence_id = uuid.uuid4(), uuid.uuid4()
    async for session in _rolled_back(migrated_postgres, "audit"):
        await join_test_transaction(shared_audit_app, session)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=shared_audit_app), base_url="http://audit.internal"
        ) as http:
            await AuditApi(http).post(
                audit_events.consent(work_id, creator),
                audit_events.grant(licence_id, buyer, [work_id]),
            )
        sequencer: Sequencer = shared_audit_app.state.sequencer
        await sequencer.run_once()
        known = {"work_id": str(work_id), "licence_id": str(licence_id)}
        yield Target("audit", shared_audit_app, actors, known)


@pytest.fixture
async def graphql_target(
    migrated_postgres: str,
    monkeypatch: pytest.MonkeyPatch,
    catalogue_session: AsyncSession,
    shared_app: FastAPI,
    catalogue_app: FastAPI,
    shared_catalogue_app: FastAPI,
    licensing_app: FastAPI,
    shared_delivery_app: FastAPI,
    shared_audit_app: FastAPI,
) -> AsyncIterator[GraphQLTarget]:
    """The gateway in process, its calls to each service routed to that service's app in
    process, every app inside a transaction rolled back at the end."""
    services = {
        "catalogue": shared_app,
        "licensing": licensing_app,
        "delivery": shared_delivery_app,
        "audit": shared_audit_app,
    }
    routed = httpx.AsyncClient(
        mounts={
            f"http://{name}.fuzz": httpx.ASGITransport(app=app) for name, app in services.items()
        },
        timeout=30.0,
    )
    # The gateway builds its service clients on the process's shared HTTP client.
    monkeypatch.setattr(services_kit_app, "new_transport", lambda: HttpxTransport(routed))
    settings = GatewaySettings.model_validate(
        {
            "database_url": migrated_postgres,
            "database_schema": "gateway",
            **key_settings("gateway"),
            **{f"ASSENT_{name.upper()}_URL": f"http://{name}.fuzz" for name in services},
        }
    )
    gateway = create_gateway_app(settings)
    sessions = [
        _rolled_back(migrated_postgres, schema)
        for schema in ("gateway", "licensing", "delivery", "audit")
    ]
    try:
        gateway_session, licensing_session, delivery_session, audit_session = [
            await anext(session) for session in sessions
        ]
        for app, session in [
            (gateway, gateway_session),
            (licensing_app, licensing_session),
            (shared_delivery_app, delivery_session),
            (shared_audit_app, audit_session),
            (shared_app, catalogue_session),
            (catalogue_app, catalogue_session),
            (shared_catalogue_app, catalogue_session),
        ]:
            await join_test_transaction(app, session)
        admin_key = generate_key().secret
        await account_service.ensure_bootstrap_admin(gateway_session, admin_key)
        keys = {"admin": admin_key}
        for role in (Role.BUYER, Role.CREATOR):
            _, issued = await account_service.register(
                gateway_session, None, name=f"Fuzz {role}", email=f"{role}@fuzz.test", role=role
            )
            keys[role] = issued.secret
        yield GraphQLTarget(gateway, create_gateway_schema(settings).as_str(), keys)
    finally:
        for opened in reversed(sessions):
            await opened.aclose()
        await gateway.state.engine.dispose()
        await routed.aclose()
