"""A purchase charges the buyer once and grants one licence, whatever is repeated or raced."""

import uuid
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.consent.service import consent_service
from services.catalogue.work.service import work_service
from services.kit.db import utcnow
from services.kit.outbox import OutboxDelivery
from services.licensing.models import LedgerTransaction, Licence, Purchase, Quote
from tests.services.catalogue.helpers import WITHDRAWAL, Actor, outbox_topics
from tests.services.licensing.helpers import Api, listed_work, make_quote, quote_line, top_up


async def _count(session: AsyncSession, model: type[object]) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_purchase_charges_the_quote_and_grants_its_works(
    api: Api,
    session: AsyncSession,
    catalogue_session: AsyncSession,
    ines: Actor,
    omar: Actor,
    lab: Actor,
    admin: Actor,
) -> None:
    first = await listed_work(catalogue_session, ines, price_minor=2000, title="Estuary")
    second = await listed_work(
        catalogue_session, ines, price_minor=500, title="Harbour", co_creators=[(omar, 4000)]
    )
    await api.top_up(admin, lab, 10_000)
    quote = await api.quote_works(lab, [first, second])

    response = await api.buy(lab, quote["id"])

    assert response.status_code == 200, response.text
    body = response.json()
    licence = body["licence"]
    assert body["replayed"] is False
    assert (licence["status"], licence["total_minor"], licence["platform_fee_minor"]) == (
        "active",
        2500,
        300 + 75,
    )
    assert (licence["buyer_name"], licence["uses"], licence["refunded_minor"]) == (
        "Lab",
        ["training"],
        0,
    )
    assert [(line["title"], line["price_minor"], line["status"]) for line in licence["lines"]] == [
        ("Estuary", 2000, "active"),
        ("Harbour", 500, "active"),
    ]
    harbour = licence["lines"][1]
    assert harbour["attribution"] == "Ines Creator, Omar Creator"
    assert harbour["terms_id"] == quote["lines"][1]["terms_id"]
    assert harbour["sha256"] == quote["lines"][1]["sha256"]
    assert harbour["ends_at"] > harbour["starts_at"] == licence["granted_at"]
    assert await api.balance(lab, lab) == 7_500
    assert await api.balance(ines, ines, "creator_payable") == 1700 + 255
    assert await api.balance(omar, omar, "creator_payable") == 170
    assert (await api.ok(lab, "GET", f"/v1/quotes/{quote['id']}"))["status"] == "purchased"
    assert await outbox_topics(session) == [
        "ledger.recorded",  # the top-up
        "licence.granted",
        "ledger.recorded",
    ]
    sale = (
        await session.scalars(
            select(OutboxDelivery.payload)
            .where(OutboxDelivery.topic == "ledger.recorded")
            .order_by(OutboxDelivery.id.desc())
        )
    ).first()
    assert sale is not None
    postings = [
        (p["account_kind"], p["work_id"], p["amount_minor"])
        for p in sale["transaction"]["postings"]
    ]
    assert postings == [
        ("buyer_balance", None, -2500),
        ("platform_revenue", str(first), 300),
        ("creator_payable", str(first), 1700),
        ("platform_revenue", str(second), 75),
        ("creator_payable", str(second), 255),
        ("creator_payable", str(second), 170),
    ]


async def test_the_same_key_replays_the_same_licence_and_charges_once(
    api: Api, session: AsyncSession, lab: Actor
) -> None:
    quote_id = await make_quote(session, lab.id, [quote_line(1000, [(uuid.uuid4(), 10_000)])])
    await top_up(session, lab.id, 5000)

    first = await api.bought(lab, str(quote_id), "order-7")
    again = await api.buy(lab, str(quote_id), "order-7")

    assert again.status_code == 200
    assert again.json()["replayed"] is True
    assert again.json()["licence"] == first
    assert await api.balance(lab, lab) == 4000
    assert await _count(session, Licence) == 1


async def test_a_used_key_with_another_quote_is_refused(
    api: Api, session: AsyncSession, lab: Actor
) -> None:
    creator = uuid.uuid4()
    bought = await make_quote(session, lab.id, [quote_line(1000, [(creator, 10_000)])])
    other = await make_quote(session, lab.id, [quote_line(1000, [(creator, 10_000)])])
    await top_up(session, lab.id, 5000)
    await api.bought(lab, str(bought), "order-7")

    assert await api.refused(
        lab, "POST", "/v1/purchases", json={"quote_id": str(other), "idempotency_key": "order-7"}
    ) == (409, "IdempotencyKeyReused")
    assert await api.balance(lab, lab) == 4000
    unbought = await session.get(Quote, other, populate_existing=True)
    assert unbought is not None
    assert unbought.purchased_at is None


async def test_a_bought_quote_is_not_bought_again_under_another_key(
    api: Api, session: AsyncSession, lab: Actor
) -> None:
    quote_id = await make_quote(session, lab.id, [quote_line(1000, [(uuid.uuid4(), 10_000)])])
    await top_up(session, lab.id, 5000)
    await api.bought(lab, str(quote_id), "first")

    response = await api.buy(lab, str(quote_id), "second")

    assert (response.status_code, response.json()["error"]) == (409, "QuotePurchased")
    assert await api.balance(lab, lab) == 4000
    assert await _count(session, Purchase) == 1


async def test_an_expired_quote_is_refused(api: Api, session: AsyncSession, lab: Actor) -> None:
    quote_id = await make_quote(session, lab.id, [quote_line(1000, [(uuid.uuid4(), 10_000)])])
    await top_up(session, lab.id, 5000)
    await session.execute(
        update(Quote).where(Quote.id == quote_id).values(expires_at=utcnow() - timedelta(seconds=1))
    )

    response = await api.buy(lab, str(quote_id))

    assert (response.status_code, response.json()["error"]) == (409, "QuoteExpired")
    assert (await api.ok(lab, "GET", f"/v1/quotes/{quote_id}"))["status"] == "expired"
    assert await api.balance(lab, lab) == 5000
    assert await _count(session, Purchase) == 0


async def test_too_little_balance_charges_nothing_and_the_key_can_be_retried(
    api: Api, session: AsyncSession, lab: Actor
) -> None:
    quote_id = await make_quote(session, lab.id, [quote_line(1000, [(uuid.uuid4(), 10_000)])])
    await top_up(session, lab.id, 999)
    transactions = await _count(session, LedgerTransaction)

    response = await api.buy(lab, str(quote_id), "order-1")

    assert (response.status_code, response.json()["error"]) == (409, "InsufficientFunds")
    assert await api.balance(lab, lab) == 999
    assert (await _count(session, LedgerTransaction), await _count(session, Licence)) == (
        transactions,
        0,
    )
    assert await _count(session, Purchase) == 0
    await top_up(session, lab.id, 1)
    assert (await api.bought(lab, str(quote_id), "order-1"))["total_minor"] == 1000
    assert await api.balance(lab, lab) == 0


async def test_a_buyer_without_a_balance_in_the_quote_currency_cannot_buy(
    api: Api, session: AsyncSession, lab: Actor
) -> None:
    quote_id = await make_quote(
        session, lab.id, [quote_line(100, [(uuid.uuid4(), 10_000)])], currency="USD"
    )
    await top_up(session, lab.id, 5000, "EUR")

    assert await api.refused(
        lab, "POST", "/v1/purchases", json={"quote_id": str(quote_id), "idempotency_key": "k"}
    ) == (409, "InsufficientFunds")


async def test_another_buyers_quote_is_not_found(
    api: Api, session: AsyncSession, lab: Actor, rival: Actor
) -> None:
    quote_id = await make_quote(session, lab.id, [quote_line(1000, [(uuid.uuid4(), 10_000)])])
    await top_up(session, rival.id, 5000)

    response = await api.buy(rival, str(quote_id))

    assert (response.status_code, response.json()["error"]) == (404, "NotFound")
    assert await api.refused(rival, "GET", f"/v1/quotes/{quote_id}") == (404, "NotFound")
    assert await api.balance(rival, rival) == 5000
    assert await _count(session, Purchase) == 0


async def test_a_creator_account_cannot_buy(api: Api, session: AsyncSession, ines: Actor) -> None:
    quote_id = await make_quote(session, ines.id, [quote_line(1000, [(uuid.uuid4(), 10_000)])])
    await top_up(session, ines.id, 5000)

    response = await api.buy(ines, str(quote_id))

    assert (response.status_code, response.json()["error"]) == (403, "Forbidden")
    assert await _count(session, Purchase) == 0


async def test_a_quote_whose_works_were_all_excluded_cannot_be_bought(
    api: Api, catalogue_session: AsyncSession, ines: Actor, lab: Actor, admin: Actor
) -> None:
    unpriced = await listed_work(catalogue_session, ines, currency="USD")
    await api.top_up(admin, lab, 5000)
    quote = await api.quote_works(lab, [unpriced, uuid.uuid4()])
    assert (quote["lines"], quote["total_minor"]) == ([], 0)

    response = await api.buy(lab, quote["id"])

    assert (response.status_code, response.json()["error"]) == (409, "NothingToPurchase")


async def test_a_work_withdrawn_after_the_quote_is_still_sold_at_the_quoted_price(
    api: Api,
    catalogue_session: AsyncSession,
    ines: Actor,
    lab: Actor,
    admin: Actor,
) -> None:
    work_id = await listed_work(catalogue_session, ines, price_minor=1200)
    await api.top_up(admin, lab, 5000)
    quote = await api.quote_works(lab, [work_id])
    await consent_service.withdraw_consent(catalogue_session, ines.caller, work_id, WITHDRAWAL)
    await work_service.withdraw(catalogue_session, ines.caller, work_id)

    licence = await api.bought(lab, quote["id"])

    assert [(line["work_id"], line["price_minor"]) for line in licence["lines"]] == [
        (str(work_id), 1200)
    ]
    assert await api.balance(lab, lab) == 3800
    # A quote now shows the lab no more of the work than the catalogue does.
    requoted = await api.quote_works(lab, [work_id])
    assert [e["reason"] for e in requoted["excluded"]] == ["not_found"]


async def test_a_licence_runs_as_long_as_its_longest_terms(
    api: Api, session: AsyncSession, lab: Actor
) -> None:
    creator = uuid.uuid4()
    quote_id = await make_quote(
        session,
        lab.id,
        [
            quote_line(100, [(creator, 10_000)], duration_days=30),
            quote_line(100, [(creator, 10_000)], duration_days=365),
        ],
    )
    await top_up(session, lab.id, 200)

    licence = await api.bought(lab, str(quote_id))

    ends = sorted(line["ends_at"] for line in licence["lines"])
    assert licence["ends_at"] == ends[-1] > ends[0]
