"""Buyers racing for one work on PostgreSQL, each request in its own committing transaction:
an exclusive sale and any other sale of the work for the same uses never both commit."""

import asyncio
import uuid

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.contracts.licensing import LicenceLineStatus
from services.contracts.roles import Role
from services.licensing.models import LicenceLine
from tests.services.catalogue.helpers import Actor
from tests.services.licensing.helpers import (
    headers,
    make_quote,
    quote_line,
    top_up,
)


async def _race(app: FastAPI, work_id: uuid.UUID, exclusivity: list[int]) -> list[Actor]:
    """One buyer per entry, each with a quote for the work on those exclusivity days and the
    money to pay; every purchase sent at once. The buyers, in the order of `exclusivity`."""
    sessions: async_sessionmaker[AsyncSession] = app.state.sessionmaker
    buyers = [
        Actor(str(uuid.uuid4()), frozenset({Role.BUYER}), f"Lab {n}")
        for n in range(len(exclusivity))
    ]
    async with sessions() as session:
        quotes = []
        for buyer, days in zip(buyers, exclusivity, strict=True):
            line = quote_line(100, [(uuid.uuid4(), 10_000)], work_id=work_id, exclusivity_days=days)
            quotes.append(await make_quote(session, buyer.id, [line]))
            await top_up(session, buyer.id, 100)
        await session.commit()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://licensing.internal"
    ) as http:
        responses = await asyncio.gather(
            *(
                http.post(
                    "/v1/purchases",
                    json={"quote_id": str(quote_id), "idempotency_key": "race"},
                    headers=headers(buyer),
                )
                for buyer, quote_id in zip(buyers, quotes, strict=True)
            )
        )
    for response in responses:
        assert response.status_code == 200 or (
            response.status_code == 409 and response.json()["error"] == "NothingToPurchase"
        ), response.text
    return buyers


async def _sold_exclusivity(app: FastAPI, work_id: uuid.UUID) -> list[int]:
    """The exclusivity days of every line of the work sold and standing, smallest first."""
    sessions: async_sessionmaker[AsyncSession] = app.state.sessionmaker
    async with sessions() as session:
        statement = select(LicenceLine).where(
            LicenceLine.work_id == work_id, LicenceLine.status == LicenceLineStatus.ACTIVE
        )
        lines = (await session.scalars(statement)).all()
    return sorted(int(line.terms["exclusivity_days"]) for line in lines)


async def test_of_ten_buyers_racing_for_an_exclusive_licence_exactly_one_is_sold_it(
    racing_app: FastAPI,
) -> None:
    for _ in range(3):
        work_id = uuid.uuid4()
        await _race(racing_app, work_id, [30] * 10)

        assert await _sold_exclusivity(racing_app, work_id) == [30]


async def test_an_exclusive_sale_racing_ordinary_ones_stands_alone_or_is_refused(
    racing_app: FastAPI,
) -> None:
    """Whichever commits first decides: the exclusive sale, and every ordinary one after it
    is refused; or an ordinary one, and the exclusive sale is refused while every other
    ordinary sale, which takes nothing from the rest, is made."""
    for _ in range(4):
        work_id = uuid.uuid4()
        await _race(racing_app, work_id, [0, 0, 0, 30, 0, 0, 0])

        assert await _sold_exclusivity(racing_app, work_id) in ([30], [0] * 6)
