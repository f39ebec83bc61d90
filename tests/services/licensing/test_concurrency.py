"""Racing purchases on PostgreSQL, each request in its own committing transaction."""

import asyncio
import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.contracts.events import EventEnvelope, Topic
from services.contracts.licensing import PurchaseIn
from services.contracts.roles import Role
from services.kit.outbox import OutboxDelivery
from services.licensing.licence.sale_scope import sale_scope_service
from services.licensing.models import LedgerTransaction, Licence, Purchase
from tests.services.catalogue.helpers import Actor
from tests.services.licensing.helpers import (
    catalogue_event,
    headers,
    make_quote,
    quote_line,
    service_headers,
    top_up,
)


def _buyer() -> Actor:
    return Actor(str(uuid.uuid4()), frozenset({Role.BUYER}), "Racing Lab")


async def _count(session: AsyncSession, model: type[Any], **where: Any) -> int:
    statement = select(func.count()).select_from(model).filter_by(**where)
    return int(await session.scalar(statement) or 0)


async def _purchase_all(
    app: FastAPI, buyer: Actor, bodies: list[dict[str, str]]
) -> list[httpx.Response]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://licensing.internal"
    ) as http:
        return await asyncio.gather(
            *(http.post("/v1/purchases", json=body, headers=headers(buyer)) for body in bodies)
        )


async def test_fifty_racing_purchases_with_one_key_grant_one_licence_and_charge_once(
    racing_app: FastAPI,
) -> None:
    sessions: async_sessionmaker[AsyncSession] = racing_app.state.sessionmaker
    buyer = _buyer()
    async with sessions() as session:
        quote_id = await make_quote(session, buyer.id, [quote_line(1234, [(uuid.uuid4(), 10_000)])])
        await top_up(session, buyer.id, 5000)
        await session.commit()

    responses = await _purchase_all(
        racing_app, buyer, [{"quote_id": str(quote_id), "idempotency_key": "race"}] * 50
    )

    assert {response.status_code for response in responses} == {200}
    bodies = [response.json() for response in responses]
    assert len({body["licence"]["id"] for body in bodies}) == 1
    assert sorted(body["replayed"] for body in bodies) == [False] + [True] * 49
    async with sessions() as session:
        assert await _count(session, Licence, buyer_id=buyer.id) == 1
        assert await _count(session, Purchase, buyer_id=buyer.id) == 1
        licence_id = uuid.UUID(bodies[0]["licence"]["id"])
        assert await _count(session, LedgerTransaction, licence_id=licence_id) == 1
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=racing_app), base_url="http://licensing.internal"
    ) as http:
        balances = (await http.get("/v1/balances", headers=headers(buyer))).json()
    assert [b["balance_minor"] for b in balances] == [5000 - 1234]


async def test_racing_purchases_of_different_quotes_never_overdraw_the_balance(
    racing_app: FastAPI,
) -> None:
    sessions: async_sessionmaker[AsyncSession] = racing_app.state.sessionmaker
    buyer = _buyer()
    creators = [uuid.uuid4() for _ in range(3)]
    async with sessions() as session:
        quotes = [
            await make_quote(
                session,
                buyer.id,
                [quote_line(100, [(creators[n % 3], 5000), (creators[(n + 1) % 3], 5000)])],
            )
            for n in range(20)
        ]
        await top_up(session, buyer.id, 700)
        await session.commit()

    responses = await _purchase_all(
        racing_app,
        buyer,
        [{"quote_id": str(quote_id), "idempotency_key": str(quote_id)} for quote_id in quotes],
    )

    outcomes = sorted("bought" if r.status_code == 200 else r.json()["error"] for r in responses)
    assert outcomes == ["InsufficientFunds"] * 13 + ["bought"] * 7
    async with sessions() as session:
        assert await _count(session, Licence, buyer_id=buyer.id) == 7
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=racing_app), base_url="http://licensing.internal"
    ) as http:
        balances = (await http.get("/v1/balances", headers=headers(buyer))).json()
    assert [b["balance_minor"] for b in balances] == [0]


async def test_racing_purchases_of_one_quote_under_different_keys_sell_it_once(
    racing_app: FastAPI,
) -> None:
    """A double click or two tabs: one purchase wins, every other is told the quote was
    bought, never a deadlock (each racer holds a share lock on the quote from its key's
    foreign key; a racer asking for an exclusive lock on top of it deadlocked)."""
    sessions: async_sessionmaker[AsyncSession] = racing_app.state.sessionmaker
    buyer = _buyer()
    async with sessions() as session:
        await top_up(session, buyer.id, 100_000)
        quotes = [
            await make_quote(session, buyer.id, [quote_line(100, [(uuid.uuid4(), 10_000)])])
            for _ in range(10)
        ]
        await session.commit()

    for quote_id in quotes:
        responses = await _purchase_all(
            racing_app,
            buyer,
            [
                {"quote_id": str(quote_id), "idempotency_key": f"{quote_id}-tab-{n}"}
                for n in range(20)
            ],
        )
        outcomes = sorted(
            "bought" if r.status_code == 200 else r.json()["error"] for r in responses
        )
        assert outcomes == ["QuotePurchased"] * 19 + ["bought"]
    async with sessions() as session:
        assert await _count(session, Licence, buyer_id=buyer.id) == 10
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=racing_app), base_url="http://licensing.internal"
    ) as http:
        balances = (await http.get("/v1/balances", headers=headers(buyer))).json()
    assert [b["balance_minor"] for b in balances] == [100_000 - 10 * 100]


async def test_racing_top_ups_under_one_reference_credit_once(racing_app: FastAPI) -> None:
    """An admin's retry while the first call is still running: both answer the one record."""
    sessions: async_sessionmaker[AsyncSession] = racing_app.state.sessionmaker
    buyer = _buyer()
    admin = Actor(str(uuid.uuid4()), frozenset({Role.ADMIN}), "Admin")
    body = {
        "buyer_id": buyer.subject,
        "amount_minor": 500,
        "currency": "EUR",
        "reference": f"wire {uuid.uuid4()}",
        "buyer_roles": ["buyer"],
    }

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=racing_app), base_url="http://licensing.internal"
    ) as http:
        responses = await asyncio.gather(
            *(http.post("/v1/ledger/top-ups", json=body, headers=headers(admin)) for _ in range(20))
        )
        balances = (await http.get("/v1/balances", headers=headers(buyer))).json()

    assert {response.status_code for response in responses} == {201}
    assert len({response.json()["id"] for response in responses}) == 1
    assert [b["balance_minor"] for b in balances] == [500]
    async with sessions() as session:
        assert await _count(session, LedgerTransaction, reference=body["reference"]) == 1


async def _withdraw(app: FastAPI, work_id: uuid.UUID) -> httpx.Response:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://licensing.internal"
    ) as http:
        return await http.post(
            "/internal/events",
            json=catalogue_event(Topic.WORK_WITHDRAWN, work_id),
            headers=service_headers("catalogue"),
        )


async def _audit_order(session: AsyncSession, licence_id: str, work_id: uuid.UUID) -> list[str]:
    """The sale and the scope record in the order the audit log receives them."""
    statement = (
        select(OutboxDelivery.topic, OutboxDelivery.payload)
        .where(OutboxDelivery.destination == "audit")
        .order_by(OutboxDelivery.id)
    )
    order = []
    for topic, payload in await session.execute(statement):
        if topic == Topic.LICENCE_GRANTED and payload["licence_id"] == licence_id:
            order.append("sale")
        elif topic == Topic.SALE_SCOPE_RECORDED and payload["work_id"] == str(work_id):
            order.append("withdrawal")
    return order


async def test_a_purchase_racing_a_withdrawal_commits_wholly_before_or_after_it(
    racing_app: FastAPI,
) -> None:
    """Either the line is sold (and the sale comes first in the log) or it is left out
    uncharged (and the withdrawal comes first); never sold after the withdrawal."""
    sessions: async_sessionmaker[AsyncSession] = racing_app.state.sessionmaker
    buyer = _buyer()
    async with sessions() as session:
        await top_up(session, buyer.id, 100_000)
        await session.commit()

    for _ in range(10):
        raced, other = (quote_line(700, [(uuid.uuid4(), 10_000)]) for _ in range(2))
        async with sessions() as session:
            quote_id = await make_quote(session, buyer.id, [raced, other])
            await session.commit()
        bought, withdrawn = await asyncio.gather(
            _purchase_all(
                racing_app, buyer, [{"quote_id": str(quote_id), "idempotency_key": str(quote_id)}]
            ),
            _withdraw(racing_app, raced.work_id),
        )

        assert (bought[0].status_code, withdrawn.status_code) == (200, 200)
        licence = bought[0].json()["licence"]
        line = licence["lines"][0]
        async with sessions() as session:
            order = await _audit_order(session, licence["id"], raced.work_id)
        if line["status"] == "active":
            assert (order, licence["total_minor"]) == (["sale", "withdrawal"], 1400)
        else:
            assert (line["status"], line["excluded_reason"]) == ("excluded", "withdrawn")
            assert (order, licence["total_minor"]) == (["withdrawal", "sale"], 700)


async def _until_someone_waits_on_a_sale_scope_lock(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Returns once a backend of this database waits on an advisory lock."""
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock' AND wait_event = 'advisory'"
    )
    for _ in range(400):
        async with sessions() as session:
            if await session.scalar(waiting):
                return
        await asyncio.sleep(0.05)
    raise AssertionError("nothing waits on a work's sale scope lock")


async def test_a_withdrawal_waits_for_a_sale_under_way_and_is_logged_after_it(
    racing_app: FastAPI,
) -> None:
    sessions: async_sessionmaker[AsyncSession] = racing_app.state.sessionmaker
    buyer = _buyer()
    line = quote_line(700, [(uuid.uuid4(), 10_000)])
    async with sessions() as session:
        await top_up(session, buyer.id, 1000)
        quote_id = await make_quote(session, buyer.id, [line])
        await session.commit()

    async with sessions() as sale:
        bought = await racing_app.state.licensing.licences.purchase(
            sale, buyer.caller, PurchaseIn(quote_id=quote_id, idempotency_key="held")
        )
        withdrawal = asyncio.create_task(_withdraw(racing_app, line.work_id))
        await _until_someone_waits_on_a_sale_scope_lock(sessions)
        await sale.commit()
    assert (await withdrawal).status_code == 200

    assert [granted.status for granted in bought.licence.lines] == ["active"]
    async with sessions() as session:
        order = await _audit_order(session, str(bought.licence.id), line.work_id)
    assert order == ["sale", "withdrawal"]


async def test_a_sale_waits_for_a_withdrawal_under_way_and_leaves_its_work_out(
    racing_app: FastAPI,
) -> None:
    sessions: async_sessionmaker[AsyncSession] = racing_app.state.sessionmaker
    buyer = _buyer()
    withdrawn, kept = (quote_line(700, [(uuid.uuid4(), 10_000)]) for _ in range(2))
    async with sessions() as session:
        await top_up(session, buyer.id, 1000)
        quote_id = await make_quote(session, buyer.id, [withdrawn, kept])
        await session.commit()

    async with sessions() as record:
        event = EventEnvelope.model_validate(
            catalogue_event(Topic.WORK_WITHDRAWN, withdrawn.work_id)
        )
        await sale_scope_service.record(record, event)
        sale = asyncio.create_task(
            _purchase_all(racing_app, buyer, [{"quote_id": str(quote_id), "idempotency_key": "k"}])
        )
        await _until_someone_waits_on_a_sale_scope_lock(sessions)
        await record.commit()
    [response] = await sale

    licence = response.json()["licence"]
    assert [(line["status"], line["excluded_reason"]) for line in licence["lines"]] == [
        ("excluded", "withdrawn"),
        ("active", None),
    ]
    assert licence["total_minor"] == 700
    async with sessions() as session:
        assert await _audit_order(session, licence["id"], withdrawn.work_id) == [
            "withdrawal",
            "sale",
        ]
