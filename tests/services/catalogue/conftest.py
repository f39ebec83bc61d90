"""The catalogue app in process, on the run's PostgreSQL and a real S3 endpoint.

Every request of a test joins one transaction on one connection, rolled back at the
end; the test's own session shares that connection, so it sees what the app wrote.
"""

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.app import create_app
from services.catalogue.config import Settings
from services.contracts.roles import Role
from storage import ObjectStore, StorageSettings
from tests.fixtures.database import connect_rolled_back, join_test_transaction
from tests.fixtures.internal_keys import key_settings
from tests.fixtures.storage import TEST_PART_SIZES, S3Server, s3_storage_settings, unique_bucket
from tests.services.catalogue.helpers import Actor, Api

UNREACHABLE = "http://127.0.0.1:9"


@pytest.fixture(scope="session")
def catalogue_storage_settings(s3_server: S3Server) -> StorageSettings:
    """Parts of 5 MiB (the least S3 takes) above 6 MiB, so multipart runs on little data."""
    return s3_storage_settings(s3_server, unique_bucket()).model_copy(update=TEST_PART_SIZES)


@pytest.fixture(scope="session")
async def shared_app(
    migrated_postgres: str, catalogue_storage_settings: StorageSettings
) -> AsyncIterator[FastAPI]:
    settings = Settings.model_validate(
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
    app = create_app(settings, catalogue_storage_settings)
    await app.state.object_store.ensure_bucket()
    yield app
    await app.state.object_store.close()
    await app.state.http.aclose()
    await app.state.engine.dispose()


@pytest.fixture
async def session(migrated_postgres: str) -> AsyncIterator[AsyncSession]:
    async for session in connect_rolled_back(migrated_postgres, "catalogue"):
        yield session


@pytest.fixture
async def app(shared_app: FastAPI, session: AsyncSession) -> FastAPI:
    await join_test_transaction(shared_app, session)
    return shared_app


@pytest.fixture
def object_store(app: FastAPI) -> ObjectStore:
    store: ObjectStore = app.state.object_store
    return store


@pytest.fixture
async def api(app: FastAPI) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://catalogue.internal"
    ) as http:
        yield Api(http)


def _actor(name: str, *roles: Role) -> Actor:
    return Actor(subject=str(uuid.uuid4()), roles=frozenset(roles), name=name)


@pytest.fixture
def ines() -> Actor:
    return _actor("Ines Creator", Role.CREATOR)


@pytest.fixture
def omar() -> Actor:
    return _actor("Omar Creator", Role.CREATOR)


@pytest.fixture
def lab() -> Actor:
    return _actor("Lab", Role.BUYER)


@pytest.fixture
def admin() -> Actor:
    return _actor("Admin", Role.ADMIN)


@pytest.fixture
def auditor() -> Actor:
    return _actor("Auditor", Role.AUDITOR)


@pytest.fixture
def anonymous() -> Actor:
    return Actor(subject="anonymous", roles=frozenset(), name=None)
