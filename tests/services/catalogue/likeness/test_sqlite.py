"""The same lookups on the embedded default's SQLite."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.likeness import likeness_service
from services.contracts.catalogue import MediaType
from services.kit.db import create_engine, create_sessionmaker
from services.kit.migrations import upgrade
from services.stack import SERVICES
from tests.services.catalogue.likeness.material import (
    TEXT,
    copies,
    encoded,
    fingerprint,
    new_creator,
    scene,
    stored_work,
)

MIGRATIONS = next(c for c in SERVICES if c.name == "catalogue").migrations


@pytest.fixture
async def sqlite_session(tmp_path: Path) -> AsyncIterator[AsyncSession]:
    assert MIGRATIONS is not None
    url = f"sqlite+aiosqlite:///{tmp_path}/catalogue.db"
    await asyncio.to_thread(upgrade, MIGRATIONS, url, None)
    engine = create_engine(url)
    async with create_sessionmaker(engine)() as session, session.begin():
        yield session
    await engine.dispose()


async def test_copies_are_found_and_distinct_works_are_not(sqlite_session: AsyncSession) -> None:
    ines, omar = await new_creator(sqlite_session), await new_creator(sqlite_session)
    image_work = await stored_work(sqlite_session, ines, encoded(scene(1)), MediaType.IMAGE)
    text_work = await stored_work(sqlite_session, ines, TEXT.encode(), MediaType.TEXT)

    for name, copy in copies(scene(1)).items():
        matches = await likeness_service.find_near(
            sqlite_session, fingerprint(copy, MediaType.IMAGE), excluding_creator=omar
        )
        assert [match.work_id for match in matches] == [image_work], name
    edited = TEXT.replace("the gulls argue", "gulls squabble")
    matches = await likeness_service.find_near(
        sqlite_session, fingerprint(edited.encode(), MediaType.TEXT), excluding_creator=omar
    )
    assert [match.work_id for match in matches] == [text_work]
    distinct = fingerprint(encoded(scene(2)), MediaType.IMAGE)
    assert await likeness_service.find_near(sqlite_session, distinct, excluding_creator=omar) == []
