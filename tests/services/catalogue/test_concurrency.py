"""Changes to one work are serialised by a row lock, so racing requests never collide."""

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.catalogue.consent.service import consent_service
from services.catalogue.models import Consent
from services.contracts.catalogue import Use
from services.contracts.roles import Role
from services.kit.db import create_engine, create_sessionmaker
from tests.services.catalogue.helpers import Actor, consent_in, create_work

INES = Actor(str(uuid.uuid4()), frozenset({Role.CREATOR}), "Ines Creator")


@pytest.fixture
async def committing(migrated_postgres: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on their own connections that really commit; the test removes its rows."""
    engine = create_engine(migrated_postgres, schema="catalogue", pool_size=6)
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()


async def _remove(sessionmaker: async_sessionmaker[AsyncSession], work_id: uuid.UUID) -> None:
    async with sessionmaker() as session:
        parameters = {"work": work_id, "creator": INES.id, "work_text": str(work_id)}
        for statement in (
            "UPDATE work SET consent_id = NULL, current_version_id = NULL WHERE id = :work",
            "DELETE FROM consent WHERE work_id = :work",
            "DELETE FROM work_version WHERE work_id = :work",
            "DELETE FROM work_share WHERE work_id = :work",
            "DELETE FROM work WHERE id = :work",
            "DELETE FROM creator WHERE id = :creator",
            "DELETE FROM outbox_delivery WHERE payload ->> 'work_id' = :work_text",
        ):
            await session.execute(text(statement), parameters)
        await session.commit()


async def test_racing_consents_each_get_their_own_place_in_the_record(
    committing: async_sessionmaker[AsyncSession],
) -> None:
    async with committing() as session:
        work = await create_work(session, owner=INES)
        await session.commit()

    async def give(use: Use) -> None:
        async with committing() as session:
            await consent_service.give_consent(
                session,
                INES.caller,
                work.id,
                consent_in(use),
            )
            await session.commit()

    try:
        await asyncio.gather(*(give(use) for use in Use))
        async with committing() as session:
            records = (
                await session.scalars(
                    select(Consent).where(Consent.work_id == work.id).order_by(Consent.sequence)
                )
            ).all()
    finally:
        await _remove(committing, work.id)

    assert [r.sequence for r in records] == [1, 2, 3, 4, 5]
    assert [r.kind for r in records] == ["given", "revised", "revised", "revised", "revised"]
