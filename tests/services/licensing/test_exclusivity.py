"""Exclusivity as written: during an exclusive licence's window its work is sold to no one
else for overlapping uses and territory, and an exclusive offer is not sold while another
buyer's licence still covers the same uses."""

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.offer.service import offer_service
from services.contracts.catalogue import OfferIn, Terms, Use
from services.licensing.models import LicenceLine
from tests.services.catalogue.helpers import Actor
from tests.services.licensing.helpers import Api, listed_work, make_quote, quote_line, top_up


async def _buy(
    api: Api,
    session: AsyncSession,
    buyer: Actor,
    work_id: uuid.UUID,
    *,
    exclusivity_days: int = 0,
    territory: Sequence[str] = ("WORLD",),
    uses: Sequence[Use] = (Use.TRAINING,),
) -> tuple[int, dict[str, Any]]:
    line = quote_line(
        500,
        [(uuid.uuid4(), 10_000)],
        work_id=work_id,
        exclusivity_days=exclusivity_days,
        territory=territory,
        uses=uses,
    )
    quote_id = await make_quote(session, buyer.id, [line], uses=uses)
    await top_up(session, buyer.id, 500)
    response = await api.buy(buyer, str(quote_id), str(quote_id))
    return response.status_code, response.json()


def _refused_as_nothing_to_buy(outcome: tuple[int, dict[str, Any]]) -> bool:
    return outcome[0] == 409 and outcome[1]["error"] == "NothingToPurchase"


async def test_during_the_window_no_one_else_buys_the_work_for_overlapping_uses_and_territory(
    api: Api, session: AsyncSession, lab: Actor, rival: Actor
) -> None:
    work_id = uuid.uuid4()
    status, _ = await _buy(api, session, lab, work_id, exclusivity_days=90, territory=["GB", "DE"])
    assert status == 200

    overlapping = await _buy(api, session, rival, work_id, territory=["DE"])
    everywhere = await _buy(api, session, rival, work_id)
    elsewhere = await _buy(api, session, rival, work_id, territory=["FR"])
    other_uses = await _buy(api, session, rival, work_id, uses=[Use.EVALUATION])

    assert _refused_as_nothing_to_buy(overlapping)
    assert _refused_as_nothing_to_buy(everywhere)
    assert elsewhere[0] == 200
    assert other_uses[0] == 200
    assert await api.balance(rival, rival) == 4 * 500 - 2 * 500


async def test_the_holder_may_buy_again_and_others_once_the_window_has_closed(
    api: Api, session: AsyncSession, lab: Actor, rival: Actor
) -> None:
    work_id = uuid.uuid4()
    _, first = await _buy(api, session, lab, work_id, exclusivity_days=10)
    again = await _buy(api, session, lab, work_id, exclusivity_days=10)
    assert again[0] == 200

    for licence in (first, again[1]):
        line = await session.get(LicenceLine, (uuid.UUID(licence["licence"]["id"]), work_id))
        assert line is not None
        assert line.exclusive_until is not None
        # Eleven days later: the ten-day window, stored when the line was sold, has closed.
        line.starts_at -= timedelta(days=11)
        line.exclusive_until -= timedelta(days=11)
    await session.flush()
    after_window = await _buy(api, session, rival, work_id)

    assert after_window[0] == 200


async def test_an_exclusive_offer_is_not_sold_while_another_buyer_s_licence_covers_its_uses(
    api: Api, session: AsyncSession, lab: Actor, rival: Actor
) -> None:
    work_id = uuid.uuid4()
    await _buy(api, session, lab, work_id, territory=["GB"])

    exclusive = await _buy(api, session, rival, work_id, exclusivity_days=30)
    exclusive_elsewhere = await _buy(
        api, session, rival, work_id, exclusivity_days=30, territory=["JP"]
    )

    assert _refused_as_nothing_to_buy(exclusive)
    assert "no work of this quote is for sale" in exclusive[1]["detail"]
    assert exclusive_elsewhere[0] == 200


async def test_a_quote_leaves_out_a_work_held_exclusively_by_another_buyer(
    api: Api,
    session: AsyncSession,
    catalogue_session: AsyncSession,
    ines: Actor,
    lab: Actor,
    rival: Actor,
) -> None:
    work_id = await listed_work(catalogue_session, ines)
    await offer_service.set_offer(
        catalogue_session,
        ines.caller,
        work_id,
        OfferIn(
            price_minor=500,
            currency="EUR",
            terms=Terms(
                uses=[Use.TRAINING],
                commercial_use=True,
                attribution_required=False,
                duration_days=365,
                exclusivity_days=90,
            ),
        ),
    )
    before = await api.quote_works(rival, [work_id])
    await _buy(api, session, lab, work_id, exclusivity_days=90)

    after = await api.quote_works(rival, [work_id])
    holder = await api.quote_works(lab, [work_id])

    assert [line["work_id"] for line in before["lines"]] == [str(work_id)]
    assert after["lines"] == []
    [excluded] = after["excluded"]
    assert (excluded["work_id"], excluded["reason"]) == (str(work_id), "exclusive")
    assert "licensed exclusively to another buyer until" in excluded["detail"]
    assert [line["work_id"] for line in holder["lines"]] == [str(work_id)]
