"""The audit app in process on the run's PostgreSQL and a real S3 endpoint.

Each test runs in one transaction rolled back at the end, which the app's requests and
its sequencer join. Tests run the sequencer by hand (`run_once`) rather than in the
background, so each pass happens at a known point; checkpoints are signed at every pass
that grew the tree (no minimum interval).
"""

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from assent.protocol import generate_seed
from services.audit.app import create_app
from services.audit.config import Settings
from services.audit.sequencer import Sequencer
from services.contracts.roles import Role
from storage import ObjectStore, StorageSettings
from tests.fixtures.database import connect_rolled_back, join_test_transaction
from tests.fixtures.internal_keys import key_settings
from tests.fixtures.storage import S3Server, s3_storage_settings, unique_bucket
from tests.services.audit.helpers import AuditApi
from tests.services.catalogue.helpers import Actor

UNREACHABLE = "http://127.0.0.1:9"
# One checkpoint key for every audit app of the run, as replicas share theirs: an app
# started with another would rotate the key in the database the apps share.
SIGNING_KEY = generate_seed()


def audit_settings(database_url: str, **overrides: object) -> Settings:
    return Settings.model_validate(
        {
            "database_url": database_url,
            "database_schema": "audit",
            "database_pool_size": 2,
            "signing_key": SIGNING_KEY,
            "checkpoint_interval_seconds": 0,
            **key_settings("audit"),
            "ASSENT_CATALOGUE_URL": UNREACHABLE,
            "ASSENT_LICENSING_URL": UNREACHABLE,
            "ASSENT_DELIVERY_URL": UNREACHABLE,
            **overrides,
        }
    )


@pytest.fixture(scope="session")
def audit_storage_settings(s3_server: S3Server) -> StorageSettings:
    return s3_storage_settings(s3_server, unique_bucket())


@pytest.fixture(scope="session")
async def shared_audit_app(
    migrated_postgres: str, audit_storage_settings: StorageSettings
) -> AsyncIterator[FastAPI]:
    app = create_app(audit_settings(migrated_postgres), audit_storage_settings)
    await app.state.object_store.ensure_bucket()
    yield app
    await app.state.object_store.close()
    await app.state.http.aclose()
    await app.state.engine.dispose()


@pytest.fixture
async def session(migrated_postgres: str) -> AsyncIterator[AsyncSession]:
    """The test's audit transaction, which the app's requests and sequencer join."""
    async for session in connect_rolled_back(migrated_postgres, "audit"):
        yield session


@pytest.fixture
async def app(shared_audit_app: FastAPI, session: AsyncSession) -> FastAPI:
    await join_test_transaction(shared_audit_app, session)
    return shared_audit_app


@pytest.fixture
def sequencer(app: FastAPI) -> Sequencer:
    found: Sequencer = app.state.sequencer
    return found


@pytest.fixture
def object_store(app: FastAPI) -> ObjectStore:
    store: ObjectStore = app.state.object_store
    return store


@pytest.fixture
async def audit(app: FastAPI) -> AsyncIterator[AuditApi]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://audit.internal"
    ) as http:
        yield AuditApi(http)


def _actor(name: str, *roles: Role) -> Actor:
    return Actor(subject=str(uuid.uuid4()), roles=frozenset(roles), name=name)


@pytest.fixture
def ines() -> Actor:
    return _actor("Ines Creator", Role.CREATOR)


@pytest.fixture
def otto() -> Actor:
    return _actor("Otto Creator", Role.CREATOR)


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
