"""Delivery's migrations go up, down and up again on both backends."""

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command

from services.kit.migrations import alembic_config, upgrade
from services.stack import SERVICES
from tests.fixtures.database import fresh_database

MIGRATIONS = next(c for c in SERVICES if c.name == "delivery").migrations


def _round_trip(url: str, schema: str | None) -> None:
    assert MIGRATIONS is not None
    upgrade(MIGRATIONS, url, schema)
    command.downgrade(alembic_config(MIGRATIONS, url, schema), "0001")
    upgrade(MIGRATIONS, url, schema)


@pytest.fixture
def scratch_postgres(postgres_server: str) -> Iterator[str]:
    yield from fresh_database(postgres_server, "delivery_migrations")


async def test_round_trip_on_sqlite(tmp_path: Path) -> None:
    await asyncio.to_thread(_round_trip, f"sqlite+aiosqlite:///{tmp_path}/delivery.db", None)


async def test_round_trip_on_postgresql(scratch_postgres: str) -> None:
    await asyncio.to_thread(_round_trip, scratch_postgres, "delivery")


async def test_the_migrations_match_the_models(scratch_postgres: str) -> None:
    assert MIGRATIONS is not None
    config = alembic_config(MIGRATIONS, scratch_postgres, "delivery")
    await asyncio.to_thread(upgrade, MIGRATIONS, scratch_postgres, "delivery")
    # Raises when autogenerate would write a migration: a model changed without one.
    await asyncio.to_thread(command.check, config)
