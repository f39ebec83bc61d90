from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.kit.db import create_engine, create_sessionmaker
from tests.fixtures.database import session_fixture

gateway_session = session_fixture("gateway")


async def _committing_sessionmaker(
    url: str, schema: str
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(url, schema=schema, pool_size=2)
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def catalogue_db(migrated_postgres: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions that really commit, in the catalogue schema (which has an outbox).

    For what another connection must see; a test deletes the rows it committed.
    """
    async for sessionmaker in _committing_sessionmaker(migrated_postgres, "catalogue"):
        yield sessionmaker


@pytest.fixture
async def audit_db(migrated_postgres: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async for sessionmaker in _committing_sessionmaker(migrated_postgres, "audit"):
        yield sessionmaker


@pytest.fixture
async def gateway_db(migrated_postgres: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async for sessionmaker in _committing_sessionmaker(migrated_postgres, "gateway"):
        yield sessionmaker
