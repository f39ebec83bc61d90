"""Invoice numbers are sequential with no gaps under concurrent purchases, purchases
refused or rolled back, and two numberers at once: each request commits on its own, on
the module's own PostgreSQL database."""

import asyncio
import uuid

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.contracts.licensing import PurchaseIn
from services.contracts.roles import Role
from services.kit.internal_token import Caller
from services.licensing.invoice.models import Invoice
from services.licensing.invoice.service import InvoiceNumberer
from tests.services.catalogue.helpers import Actor
from tests.services.licensing.helpers import headers, make_quote, quote_line, top_up

PURCHASES = 16
AFFORDABLE = 12


async def test_numbers_have_no_gaps_under_concurrent_purchases_and_rollbacks(
    racing_app: FastAPI,
) -> None:
    lab = Actor(str(uuid.uuid4()), frozenset({Role.BUYER}), "Numbered Lab")
    sessions: async_sessionmaker[AsyncSession] = racing_app.state.sessionmaker
    async with sessions() as session:
        quotes = [
            await make_quote(session, lab.id, [quote_line(100, [(uuid.uuid4(), 10_000)])])
            for _ in range(PURCHASES + 1)
        ]
        await top_up(session, lab.id, 100 * AFFORDABLE)
        await session.commit()
    # A purchase made and then rolled back, as by a crash before its commit.
    async with sessions() as session:
        caller = Caller(subject=lab.subject, roles=lab.roles, issuer="gateway", name=lab.name)
        await racing_app.state.licensing.licences.purchase(
            session, caller, PurchaseIn(quote_id=quotes.pop(), idempotency_key="crashed")
        )
        await session.rollback()
    invoicing = racing_app.state.licensing.licences.invoicing
    numberers = [InvoiceNumberer(lambda: sessions, invoicing, poll_seconds=0.05) for _ in range(2)]
    running = [asyncio.create_task(numberer.worker.run()) for numberer in numberers]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=racing_app), base_url="http://licensing.internal"
    ) as http:
        answers = await asyncio.gather(
            *(
                http.post(
                    "/v1/purchases",
                    json={"quote_id": str(quote), "idempotency_key": f"k-{number}"},
                    headers=headers(lab),
                )
                for number, quote in enumerate(quotes)
            )
        )
    while await numberers[0].number_due():
        pass
    for task in running:
        task.cancel()
    await asyncio.gather(*running, return_exceptions=True)
    async with sessions() as session:
        numbers = list(
            await session.scalars(select(Invoice.number).where(Invoice.buyer_id == lab.id))
        )

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] * AFFORDABLE + [409] * (PURCHASES - AFFORDABLE)
    assert None not in numbers
    year = {number[:4] for number in numbers if number}
    assert len(year) == 1
    assert sorted(int(number[5:]) for number in numbers if number) == list(range(1, AFFORDABLE + 1))
