"""A licence whose duration has run out shows as expired, line by line and as a whole."""

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.db import utcnow
from services.licensing.models import Licence, LicenceLine
from tests.services.catalogue.helpers import Actor
from tests.services.licensing.helpers import Api, make_quote, quote_line, top_up


async def _licence(api: Api, session: AsyncSession, buyer: Actor) -> dict[str, Any]:
    lines = [quote_line(100, [(uuid.uuid4(), 10_000)], duration_days=days) for days in (1, 30)]
    quote_id = await make_quote(session, buyer.id, lines)
    await top_up(session, buyer.id, 200)
    return await api.bought(buyer, str(quote_id))


async def _age(session: AsyncSession, licence_id: str, work_id: str, by: timedelta) -> None:
    """Move a line's end into the past, as time passing would."""
    line = await session.get(LicenceLine, (uuid.UUID(licence_id), uuid.UUID(work_id)))
    assert line is not None
    line.ends_at -= by
    await session.flush()


async def test_a_fresh_licence_is_not_expired(api: Api, session: AsyncSession, lab: Actor) -> None:
    licence = await _licence(api, session, lab)

    assert licence["expired"] is False
    assert [line["expired"] for line in licence["lines"]] == [False, False]


async def test_an_ended_line_is_expired_and_the_licence_once_every_line_has_ended(
    api: Api, session: AsyncSession, lab: Actor
) -> None:
    licence = await _licence(api, session, lab)
    licence_id = str(licence["id"])
    short, long = (str(line["work_id"]) for line in licence["lines"])

    await _age(session, licence_id, short, timedelta(days=2))
    partly = await api.ok(lab, "GET", f"/v1/licences/{licence_id}")
    assert (partly["expired"], [line["expired"] for line in partly["lines"]]) == (
        False,
        [True, False],
    )

    await _age(session, licence_id, long, timedelta(days=31))
    await session.execute(
        update(Licence)
        .where(Licence.id == uuid.UUID(licence_id))
        .values(ends_at=utcnow() - timedelta(seconds=1))
    )
    ended = await api.ok(lab, "GET", f"/v1/licences/{licence_id}")
    listed = await api.ok(lab, "GET", "/v1/licences")
    batch = await api.ok(lab, "GET", "/v1/licences/batch", params={"id": licence_id})

    assert ended["expired"] is True
    assert [line["expired"] for line in ended["lines"]] == [True, True]
    assert [item["expired"] for item in listed["items"]] == [True]
    assert [item["expired"] for item in batch] == [True]
    assert ended["status"] == "active"
