"""A creator's statement: which buyer licensed what, for which uses, for how much."""

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from services.licensing.models import LedgerTransaction
from tests.services.catalogue.helpers import Actor
from tests.services.licensing.helpers import Api, make_quote, quote_line, top_up


async def test_a_creator_sees_each_share_by_work_and_period_with_payouts(
    api: Api,
    session: AsyncSession,
    lab: Actor,
    rival: Actor,
    ines: Actor,
    omar: Actor,
    admin: Actor,
) -> None:
    tide = quote_line(1000, [(ines.id, 6000), (omar.id, 4000)], title="Tide")
    dune = quote_line(2000, [(ines.id, 10_000)], title="Dune")
    first = await make_quote(session, lab.id, [tide, dune])
    second = await make_quote(session, rival.id, [tide])
    await top_up(session, lab.id, 3000)
    await top_up(session, rival.id, 1000)
    january = (await api.bought(lab, str(first)))["id"]
    await api.bought(rival, str(second))
    await session.execute(
        update(LedgerTransaction)
        .where(LedgerTransaction.licence_id == uuid.UUID(january))
        .values(recorded_at=datetime(2026, 1, 31, 23, 30, tzinfo=UTC))
    )
    await api.ok(
        admin,
        "POST",
        "/v1/ledger/payouts",
        json={
            "creator_id": ines.subject,
            "amount_minor": 500,
            "currency": "EUR",
            "reference": "SEPA 9",
        },
        status=201,
    )

    statement = await api.ok(ines, "GET", "/v1/earnings")

    assert statement["creator_id"] == ines.subject
    assert sorted(
        (line["title"], line["buyer_name"], line["basis_points"], line["amount_minor"])
        for line in statement["lines"]
    ) == [
        ("Dune", "Lab", 10_000, 1700),
        ("Tide", "Lab", 6000, 510),
        ("Tide", "Rival Lab", 6000, 510),
    ]
    assert {line["kind"] for line in statement["lines"]} == {"sale"}
    assert statement["lines"][0]["buyer_name"] == "Rival Lab"  # newest first
    assert statement["lines"][0]["uses"] == ["training"]
    assert sorted((w["title"], w["amount_minor"], w["licences"]) for w in statement["by_work"]) == [
        ("Dune", 1700, 1),
        ("Tide", 1020, 2),
    ]
    periods = [(p["period_start"][:10], p["amount_minor"]) for p in statement["by_period"]]
    assert periods[0] == ("2026-01-01", 2210)
    assert sum(amount for _, amount in periods) == 2720
    assert [(p["amount_minor"], p["reference"]) for p in statement["payouts"]] == [(500, "SEPA 9")]
    assert [(b["currency"], b["balance_minor"]) for b in statement["balances"]] == [("EUR", 2220)]
    daily = await api.ok(ines, "GET", "/v1/earnings", params={"period": "day"})
    assert daily["by_period"][0]["period_start"][:10] == "2026-01-31"
    since = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    recent = await api.ok(ines, "GET", "/v1/earnings", params={"since": since})
    assert [line["buyer_name"] for line in recent["lines"]] == ["Rival Lab"]


async def test_a_refund_shows_as_a_negative_line(
    api: Api, session: AsyncSession, lab: Actor, ines: Actor, admin: Actor
) -> None:
    quote_id = await make_quote(session, lab.id, [quote_line(100, [(ines.id, 10_000)])])
    await top_up(session, lab.id, 100)
    licence = await api.bought(lab, str(quote_id))
    await api.ok(admin, "POST", f"/v1/licences/{licence['id']}/refund", json={"reason": "r"})

    statement = await api.ok(admin, "GET", "/v1/earnings", params={"creator_id": ines.subject})

    assert sorted((line["kind"], line["amount_minor"]) for line in statement["lines"]) == [
        ("refund", -85),
        ("sale", 85),
    ]
    assert [(w["amount_minor"], w["licences"]) for w in statement["by_work"]] == [(0, 1)]


async def test_earnings_are_private_to_the_creator_admins_and_auditors(
    api: Api, lab: Actor, ines: Actor, omar: Actor, admin: Actor, auditor: Actor
) -> None:
    assert await api.refused(ines, "GET", "/v1/earnings", params={"creator_id": omar.subject}) == (
        403,
        "Forbidden",
    )
    assert await api.refused(lab, "GET", "/v1/earnings") == (403, "Forbidden")
    assert (await api.ok(auditor, "GET", "/v1/earnings", params={"creator_id": omar.subject}))[
        "lines"
    ] == []
    missing = await api.call(admin, "GET", "/v1/earnings")
    assert (missing.status_code, missing.json()["fields"][0]["field"]) == (400, "creator_id")
    naive = await api.call(ines, "GET", "/v1/earnings", params={"since": "2026-01-01T00:00:00"})
    assert (naive.status_code, naive.json()["fields"][0]["field"]) == (400, "since")


async def test_each_line_shows_the_fee_the_net_and_every_co_creators_part(
    api: Api, session: AsyncSession, lab: Actor, ines: Actor, omar: Actor, admin: Actor
) -> None:
    # 333 less a 15 % fee of 49 leaves 284, split 60/40: 170.4 and 113.6, the unit left
    # over to the larger remainder (omar's).
    line = quote_line(333, [(ines.id, 6000), (omar.id, 4000)], title="Tide")
    await top_up(session, lab.id, 333)
    licence = await api.bought(lab, str(await make_quote(session, lab.id, [line])))
    await api.ok(
        admin,
        "POST",
        f"/v1/licences/{licence['id']}/refund",
        json={"reason": "the buyer asked within the cooling-off period"},
    )

    statement = await api.ok(ines, "GET", "/v1/earnings")

    by_kind = {line["kind"]: line for line in statement["lines"]}
    sale, refund = by_kind["sale"], by_kind["refund"]
    assert (sale["price_minor"], sale["platform_fee_minor"], sale["net_minor"]) == (333, 49, 284)
    assert [
        (c["creator_id"], c["basis_points"], c["amount_minor"]) for c in sale["co_creators"]
    ] == [
        (ines.subject, 6000, 170),
        (omar.subject, 4000, 114),
    ]
    assert sale["co_creators"][0]["creator_name"] == f"Creator {ines.id}"
    assert (sale["refund_reason"], sale["refund_note"]) == (None, None)
    assert [c["amount_minor"] for c in refund["co_creators"]] == [-170, -114]
    assert refund["refund_reason"] == "refunded_by_marketplace"
    assert refund["refund_note"] == "the buyer asked within the cooling-off period"
