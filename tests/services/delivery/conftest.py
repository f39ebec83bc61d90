"""The delivery app in process with the real catalogue app behind it, on the run's
PostgreSQL and a real S3 endpoint (one bucket, as in production).

Each test runs in two transactions rolled back at the end, one per service's schema;
the apps' requests join them. Delivery reaches the catalogue over HTTP, routed in
process, exactly as it calls the catalogue service in production.
"""

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from assent.protocol import generate_seed
from services.catalogue.app import create_app as create_catalogue_app
from services.catalogue.config import Settings as CatalogueSettings
from services.contracts.roles import Role
from services.delivery.app import create_app
from services.delivery.builder import DeliveryBuilder
from services.delivery.config import Settings
from services.kit.client import HttpxTransport
from storage import ObjectStore, StorageSettings
from tests.fixtures.database import connect_rolled_back, join_test_transaction
from tests.fixtures.internal_keys import key_settings
from tests.fixtures.storage import TEST_PART_SIZES, S3Server, s3_storage_settings, unique_bucket
from tests.services.catalogue.helpers import Actor, Api
from tests.services.delivery.helpers import DeliveryApi

UNREACHABLE = "http://127.0.0.1:9"
CATALOGUE_URL = "http://catalogue.internal"
# One manifest key for every delivery app of the run, as replicas share theirs: an app
# started with another would rotate the key in the database the apps share.
SIGNING_KEY = generate_seed()


def delivery_settings(database_url: str, **overrides: object) -> Settings:
    return Settings.model_validate(
        {
            "database_url": database_url,
            "database_schema": "delivery",
            "database_pool_size": 2,
            "signing_key": SIGNING_KEY,
            "watermark_secret": "watermark-" + uuid.uuid4().hex + uuid.uuid4().hex,
            **key_settings("delivery"),
            "ASSENT_CATALOGUE_URL": CATALOGUE_URL,
            "ASSENT_LICENSING_URL": UNREACHABLE,
            "ASSENT_AUDIT_URL": UNREACHABLE,
            **overrides,
        }
    )


def catalogue_client(catalogue_app: FastAPI) -> httpx.AsyncClient:
    """An HTTP client whose calls to the catalogue's address reach the app in process."""
    return httpx.AsyncClient(mounts={CATALOGUE_URL: httpx.ASGITransport(app=catalogue_app)})


@pytest.fixture(scope="session")
def shared_storage_settings(s3_server: S3Server) -> StorageSettings:
    return s3_storage_settings(s3_server, unique_bucket()).model_copy(update=TEST_PART_SIZES)


@pytest.fixture(scope="session")
async def shared_catalogue_app(
    migrated_postgres: str, shared_storage_settings: StorageSettings
) -> AsyncIterator[FastAPI]:
    settings = CatalogueSettings.model_validate(
        {
            "database_url": migrated_postgres,
            "database_schema": "catalogue",
            "database_pool_size": 2,
            **key_settings("catalogue"),
            "ASSENT_LICENSING_URL": UNREACHABLE,
            "ASSENT_DELIVERY_URL": UNREACHABLE,
            "ASSENT_AUDIT_URL": UNREACHABLE,
        }
    )
    app = create_catalogue_app(settings, shared_storage_settings)
    await app.state.object_store.ensure_bucket()
    yield app
    await app.state.object_store.close()
    await app.state.http.aclose()
    await app.state.engine.dispose()


@pytest.fixture(scope="session")
async def shared_delivery_app(
    migrated_postgres: str, shared_storage_settings: StorageSettings, shared_catalogue_app: FastAPI
) -> AsyncIterator[FastAPI]:
    app = create_app(delivery_settings(migrated_postgres), shared_storage_settings)
    await app.state.http.aclose()
    app.state.http = HttpxTransport(catalogue_client(shared_catalogue_app))
    yield app
    await app.state.object_store.close()
    await app.state.http.aclose()
    await app.state.engine.dispose()


@pytest.fixture
async def catalogue_session(migrated_postgres: str) -> AsyncIterator[AsyncSession]:
    async for session in connect_rolled_back(migrated_postgres, "catalogue"):
        yield session


@pytest.fixture
async def session(migrated_postgres: str) -> AsyncIterator[AsyncSession]:
    """The test's delivery transaction, which the delivery app's requests join."""
    async for session in connect_rolled_back(migrated_postgres, "delivery"):
        yield session


@pytest.fixture
async def catalogue_app(shared_catalogue_app: FastAPI, catalogue_session: AsyncSession) -> FastAPI:
    await join_test_transaction(shared_catalogue_app, catalogue_session)
    return shared_catalogue_app


@pytest.fixture
async def app(
    shared_delivery_app: FastAPI, session: AsyncSession, catalogue_app: FastAPI
) -> FastAPI:
    await join_test_transaction(shared_delivery_app, session)
    return shared_delivery_app


@pytest.fixture
def builder(app: FastAPI) -> DeliveryBuilder:
    """The app's builder; tests run it by hand (`build_pending`) rather than in the
    background, so each build happens at a known point of the test."""
    built: DeliveryBuilder = app.state.builder
    return built


@pytest.fixture
def object_store(app: FastAPI) -> ObjectStore:
    store: ObjectStore = app.state.object_store
    return store


@pytest.fixture
async def catalogue(catalogue_app: FastAPI) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=catalogue_app), base_url=CATALOGUE_URL
    ) as http:
        yield Api(http)


@pytest.fixture
async def delivery(app: FastAPI) -> AsyncIterator[DeliveryApi]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://delivery.internal"
    ) as http:
        yield DeliveryApi(http)


def _actor(name: str, *roles: Role) -> Actor:
    return Actor(subject=str(uuid.uuid4()), roles=frozenset(roles), name=name)


@pytest.fixture
def ines() -> Actor:
    return _actor("Ines Creator", Role.CREATOR)


@pytest.fixture
def lab() -> Actor:
    return _actor("Northwind Lab", Role.BUYER)


@pytest.fixture
def rival() -> Actor:
    return _actor("Rival Lab", Role.BUYER)


@pytest.fixture
def admin() -> Actor:
    return _actor("Admin", Role.ADMIN)


@pytest.fixture
def auditor() -> Actor:
    return _actor("Auditor", Role.AUDITOR)
