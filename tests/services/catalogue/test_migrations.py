"""The catalogue's migrations go up, down and up again on both backends."""

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from alembic import command

from services.kit.migrations import alembic_config, upgrade
from services.stack import SERVICES
from tests.fixtures.database import fresh_database

MIGRATIONS = next(c for c in SERVICES if c.name == "catalogue").migrations


def _round_trip(url: str, schema: str | None) -> None:
    assert MIGRATIONS is not None
    upgrade(MIGRATIONS, url, schema)
    command.downgrade(alembic_config(MIGRATIONS, url, schema), "0001")
    upgrade(MIGRATIONS, url, schema)


@pytest.fixture
def scratch_postgres(postgres_server: str) -> Iterator[str]:
    yield from fresh_database(postgres_server, "catalogue_migrations")


async def test_round_trip_on_sqlite(tmp_path: Path) -> None:
    await asyncio.to_thread(_round_trip, f"sqlite+aiosqlite:///{tmp_path}/catalogue.db", None)


async def test_round_trip_on_postgresql(scratch_postgres: str) -> None:
    await asyncio.to_thread(_round_trip, scratch_postgres, "catalogue")

    connection = await asyncpg.connect(scratch_postgres.replace("+asyncpg", ""))
    try:
        indexes = await connection.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'catalogue'"
        )
    finally:
        await connection.close()
    definitions = {row["indexname"]: row["indexdef"] for row in indexes}
    search = definitions["ix_work_listed_search"]
    assert "USING gin (search_vector, facets) WITH (fastupdate=off) WHERE listed" in search


async def test_works_listed_before_the_facets_get_theirs(scratch_postgres: str) -> None:
    assert MIGRATIONS is not None
    await asyncio.to_thread(upgrade, MIGRATIONS, scratch_postgres, "catalogue", "0002")
    connection = await asyncpg.connect(scratch_postgres.replace("+asyncpg", ""))
    try:
        await connection.execute("SET search_path TO catalogue")
        creator, work = uuid.uuid4(), uuid.uuid4()
        await connection.execute(
            "INSERT INTO creator (id, name, created_at) VALUES ($1, 'Ines', now())", creator
        )
        await connection.execute(
            """INSERT INTO work (id, owner_id, title, description, media_type, tags, language,
                   status, review_status, created_at, listed, price_minor, currency, offer_uses)
               VALUES ($1, $2, 'Harbour', '', 'image', '["sea", "it''s"]', 'pt-BR', 'ready',
                   'clear', now(), true, 100, 'EUR', 5)""",
            work,
            creator,
        )
        await asyncio.to_thread(upgrade, MIGRATIONS, scratch_postgres, "catalogue")
        facets = await connection.fetchval("SELECT facets::text FROM work WHERE id = $1", work)
    finally:
        await connection.close()

    assert facets == (
        "'currency EUR' 'language pt' 'language pt-br' 'media image' 'tag it''s' 'tag sea'"
        " 'use retrieval' 'use training'"
    )
