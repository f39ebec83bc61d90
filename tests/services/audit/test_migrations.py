"""The audit log's migrations go up, down and up again on both backends, and the events
of the first, flat log become the first entries of the Merkle log, in their order."""

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.ext.asyncio import AsyncSession

from assent.protocol import MARKER_EVENT_ID, canonical_json
from services.audit.log.service import log_service
from services.audit.models import ChainSubject, LogEntry, PendingEntry
from services.contracts.events import EventEnvelope
from services.kit.db import UTCDateTime, create_engine, create_sessionmaker, utcnow
from services.kit.migrations import alembic_config, upgrade
from services.stack import SERVICES
from tests.fixtures.database import fresh_database
from tests.services.audit.helpers import consent, grant, registered
from tests.services.catalogue.helpers import Actor

MIGRATIONS = next(c for c in SERVICES if c.name == "audit").migrations

# The first log's table, as revision 0001 left it.
FIRST_LOG = sa.table(
    "log_entry",
    sa.column("event_id", sa.Uuid()),
    sa.column("topic", sa.String()),
    sa.column("source", sa.String()),
    sa.column("occurred_at", UTCDateTime()),
    sa.column("received_at", UTCDateTime()),
    sa.column("payload", sa.JSON()),
    sa.column("seq", sa.BigInteger()),
)


def _round_trip(url: str, schema: str | None) -> None:
    assert MIGRATIONS is not None
    upgrade(MIGRATIONS, url, schema)
    command.downgrade(alembic_config(MIGRATIONS, url, schema), "0001")
    upgrade(MIGRATIONS, url, schema)


@pytest.fixture
def scratch_postgres(postgres_server: str) -> Iterator[str]:
    yield from fresh_database(postgres_server, "audit_migrations")


async def test_round_trip_on_sqlite(tmp_path: Path) -> None:
    await asyncio.to_thread(_round_trip, f"sqlite+aiosqlite:///{tmp_path}/audit.db", None)


async def test_round_trip_on_postgresql(scratch_postgres: str) -> None:
    await asyncio.to_thread(_round_trip, scratch_postgres, "audit")


async def test_the_migrations_match_the_models(scratch_postgres: str) -> None:
    assert MIGRATIONS is not None
    config = alembic_config(MIGRATIONS, scratch_postgres, "audit")
    await asyncio.to_thread(upgrade, MIGRATIONS, scratch_postgres, "audit")
    # Raises when autogenerate would write a migration: a model changed without one.
    await asyncio.to_thread(command.check, config)


def _first_log_row(event: dict[str, Any]) -> dict[str, Any]:
    envelope = EventEnvelope.model_validate(event)
    return {
        "event_id": envelope.id,
        "topic": envelope.topic.value,
        "source": envelope.source,
        "occurred_at": envelope.occurred_at,
        "received_at": utcnow(),
        "payload": envelope.payload,
    }


@pytest.fixture(params=["postgresql", "sqlite"])
def scratch_database(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str | None]:
    """An empty database and the schema the audit log takes in it."""
    if request.param == "postgresql":
        url: str = request.getfixturevalue("scratch_postgres")
        return url, "audit"
    return f"sqlite+aiosqlite:///{tmp_path}/audit.db", None


async def test_the_first_logs_events_become_the_first_entries_in_their_order(
    scratch_database: tuple[str, str | None], ines: Actor, lab: Actor
) -> None:
    assert MIGRATIONS is not None
    url, schema = scratch_database
    work = uuid.uuid4()
    events = [registered(lab), consent(work, ines), grant(uuid.uuid4(), lab, [work])]
    await asyncio.to_thread(upgrade, MIGRATIONS, url, schema, "0001")
    engine = create_engine(url, schema=schema, pool_size=1)
    sessionmaker = create_sessionmaker(engine)
    try:
        async with sessionmaker() as session, session.begin():
            await session.execute(sa.insert(FIRST_LOG), [_first_log_row(e) for e in events])
        await engine.dispose()

        await asyncio.to_thread(upgrade, MIGRATIONS, url, schema)

        async with sessionmaker() as session, session.begin():
            pending = (await session.scalars(sa.select(PendingEntry).order_by("id"))).all()
            assert [row.entry for row in pending] == [canonical_json(e) for e in events]
            assert pending[1].subjects == [["work", str(work)], ["creator", str(ines.id)]]
            assert await log_service.sequence(session, limit=10) == 3
            await _assert_logged_in_order(session, events)
            about_work = sa.select(sa.func.count()).where(ChainSubject.subject_id == work)
            assert await session.scalar(about_work) == 2
        await engine.dispose()

        assert MIGRATIONS is not None
        config = alembic_config(MIGRATIONS, url, schema)
        await asyncio.to_thread(command.downgrade, config, "0001")

        async with sessionmaker() as session:
            back = (await session.execute(sa.select(FIRST_LOG).order_by(FIRST_LOG.c.seq))).all()
        assert [(str(row.event_id), row.payload) for row in back] == [
            (event["id"], event["payload"]) for event in events
        ]
    finally:
        await engine.dispose()


async def _assert_logged_in_order(session: AsyncSession, events: list[dict[str, Any]]) -> None:
    logged = (await session.scalars(sa.select(LogEntry).order_by(LogEntry.leaf_index))).all()
    # Migration 0003 appended the marker where links begin; the events follow it, linked.
    assert [entry.leaf_index for entry in logged] == [0, 1, 2, 3]
    assert (logged[0].event_id, logged[0].links) == (MARKER_EVENT_ID, None)
    assert json.loads(logged[0].entry)["links_begin_at"] == 0
    assert [json.loads(entry.entry) for entry in logged[1:]] == events
    assert all(entry.links is not None for entry in logged[1:])
