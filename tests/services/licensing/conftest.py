"""The licensing app in process on the run's PostgreSQL, reading a real catalogue app.

Each app's requests join its own transaction (one connection per schema), rolled back at
the end of the test; the test's sessions share those connections, so they see what the
apps wrote. Licensing's HTTP client is routed to the catalogue app in process, so quotes
read real works through the catalogue's own API.
"""

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.app import create_app as create_catalogue_app
from services.catalogue.config import Settings as CatalogueSettings
from services.contracts.roles import Role
from services.kit.client import HttpxTransport
from services.kit.migrations import upgrade
from services.licensing.app import create_app
from services.stack import SERVICES
from storage import StorageSettings
from tests.fixtures.database import connect_rolled_back, fresh_database, join_test_transaction
from tests.fixtures.internal_keys import key_settings
from tests.services.catalogue.helpers import Actor
from tests.services.licensing.helpers import CATALOGUE_URL, Api, licensing_settings

UNREACHABLE = "http://127.0.0.1:9"


@pytest.fixture(scope="session")
async def catalogue_app(
    migrated_postgres: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[FastAPI]:
    settings = CatalogueSettings.model_validate(
        {
            "database_url": migrated_postgres,
            "database_schema": "catalogue",
            "database_pool_size": 2,
            **key_settings("licensing"),
            "ASSENT_LICENSING_URL": UNREACHABLE,
            "ASSENT_DELIVERY_URL": UNREACHABLE,
            "ASSENT_AUDIT_URL": UNREACHABLE,
        }
    )
    # Quotes only read works, so the local store stands in for S3 (no file is touched).
    storage = StorageSettings(
        backend="local",
        local_root=Path(tmp_path_factory.mktemp("objects")),
        signing_secret=SecretStr("s" * 48),
    )
    app = create_catalogue_app(settings, storage)
    yield app
    await app.state.http.aclose()
    await app.state.engine.dispose()


@pytest.fixture(scope="session")
async def licensing_app(migrated_postgres: str, catalogue_app: FastAPI) -> AsyncIterator[FastAPI]:
    app = create_app(licensing_settings(migrated_postgres, "licensing"))
    await app.state.http.aclose()
    app.state.http = HttpxTransport(
        httpx.AsyncClient(mounts={CATALOGUE_URL: httpx.ASGITransport(app=catalogue_app)})
    )
    yield app
    await app.state.http.aclose()
    await app.state.engine.dispose()


@pytest.fixture
async def catalogue_session(migrated_postgres: str) -> AsyncIterator[AsyncSession]:
    async for session in connect_rolled_back(migrated_postgres, "catalogue"):
        yield session


@pytest.fixture
async def session(migrated_postgres: str) -> AsyncIterator[AsyncSession]:
    async for session in connect_rolled_back(migrated_postgres, "licensing"):
        yield session


@pytest.fixture
async def app(
    licensing_app: FastAPI,
    catalogue_app: FastAPI,
    session: AsyncSession,
    catalogue_session: AsyncSession,
) -> FastAPI:
    await join_test_transaction(licensing_app, session)
    await join_test_transaction(catalogue_app, catalogue_session)
    return licensing_app


@pytest.fixture
async def api(app: FastAPI) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://licensing.internal"
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
def pia() -> Actor:
    return _actor("Pia Creator", Role.CREATOR)


@pytest.fixture
def lab() -> Actor:
    return _actor("Lab", Role.BUYER)


@pytest.fixture
def rival() -> Actor:
    return _actor("Rival Lab", Role.BUYER)


@pytest.fixture
def admin() -> Actor:
    return _actor("Admin", Role.ADMIN)


@pytest.fixture
def auditor() -> Actor:
    return _actor("Auditor", Role.AUDITOR)


LICENSING_MIGRATIONS = next(c for c in SERVICES if c.name == "licensing").migrations


@pytest.fixture(scope="module")
def race_database(postgres_server: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A database of the test module's own: race tests' requests really commit, so they
    cannot share the run's rolled-back transactions."""
    assert LICENSING_MIGRATIONS is not None
    purpose = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    for url in fresh_database(postgres_server, f"licensing_{purpose}"):
        upgrade(LICENSING_MIGRATIONS, url, "licensing")
        yield url


@pytest.fixture
async def racing_app(race_database: str) -> AsyncIterator[FastAPI]:
    """The licensing app on the module's own database, each request committing."""
    app = create_app(licensing_settings(race_database, "licensing", database_pool_size=10))
    yield app
    await app.state.http.aclose()
    await app.state.engine.dispose()
