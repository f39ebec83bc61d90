"""Co-creator shares: named once each, by creators who exist, never the owner twice; and
changed only with the consent of everyone whose share changes. The consent events carry
the uses every member allows together, which is all licensing may sell."""

import uuid
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.access import record_acting_creator
from services.catalogue.models import Invitation, Work
from services.contracts.catalogue import Use
from services.contracts.events import Topic
from services.contracts.roles import Role
from services.kit.outbox import OutboxDelivery
from tests.services.catalogue.helpers import (
    WITHDRAWAL,
    Actor,
    Api,
    consent_payload,
    count,
    outbox_topics,
    work_payload,
)

DATA = b"a song for two voices and a drum machine"


@pytest.fixture
def ada() -> Actor:
    return Actor(subject=str(uuid.uuid4()), roles=frozenset({Role.CREATOR}), name="Ada Creator")


def _shares(*split: tuple[Actor, int]) -> list[dict[str, Any]]:
    return [{"creator_id": member.subject, "basis_points": points} for member, points in split]


async def _invitation(api: Api, member: Actor, work_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(
        invitation
        for invitation in await api.ok(member, "GET", "/v1/invitations")
        if invitation["work_id"] == work_id
    )
    return found


async def _accept(api: Api, member: Actor, work_id: str) -> None:
    invitation = await _invitation(api, member, work_id)
    await api.ok(member, "POST", f"/v1/invitations/{invitation['id']}/accept")


async def _consent(api: Api, member: Actor, work_id: str, *uses: Use) -> None:
    await api.ok(
        member,
        "POST",
        f"/v1/works/{work_id}/consents",
        json=consent_payload(*uses),
        status=201,
    )


async def _for_sale_with(
    api: Api, session: AsyncSession, owner: Actor, *split: tuple[Actor, int]
) -> str:
    """A work listed by its owner for training, every co-creator accepted and consenting."""
    for member, _ in split:
        await record_acting_creator(session, member.caller)
    work = await api.listed_work(owner, DATA, Use.TRAINING, shares=_shares(*split))
    for member, _ in split:
        if member is not owner:
            await _accept(api, member, work["id"])
            await _consent(api, member, work["id"], Use.TRAINING)
    assert (await api.work(owner, work["id"]))["listed"] is True
    return str(work["id"])


def _codes(response: Any) -> list[tuple[str, str]]:
    assert response.status_code == 400, response.text
    return [(field["field"], field["code"]) for field in response.json()["fields"]]


async def test_naming_the_owner_twice_or_anyone_twice_or_no_one_is_refused_and_lists_nothing(
    api: Api, session: AsyncSession, ines: Actor, omar: Actor
) -> None:
    await record_acting_creator(session, omar.caller)
    nobody = Actor(subject=str(uuid.uuid4()), roles=frozenset({Role.CREATOR}), name="Nobody")
    refused = []
    for shares in (
        _shares((ines, 5_000), (omar, 3_000), (ines, 2_000)),
        _shares((ines, 5_000), (omar, 3_000), (omar, 2_000)),
        _shares((ines, 5_000), (nobody, 5_000)),
    ):
        payload = work_payload(DATA, shares=shares)
        refused.append(await api.call(ines, "POST", "/v1/works", json=payload))

    assert [_codes(response) for response in refused] == [
        [("shares.2.creator_id", "owner_as_co_creator")],
        [("shares.2.creator_id", "duplicate")],
        [("shares.1.creator_id", "unknown_creator")],
    ]
    # An account made a moment ago may not have reached the catalogue: the words say so.
    assert "try again in a moment" in refused[2].json()["fields"][0]["message"]
    assert await count(session, Work) == 0
    assert await count(session, Invitation) == 0
    assert await outbox_topics(session) == []


async def _change(api: Api, owner: Actor, work_id: str, *split: tuple[Actor, int]) -> Any:
    return await api.call(
        owner, "PUT", f"/v1/works/{work_id}/shares", json={"shares": _shares(*split)}
    )


def _awaiting(work: dict[str, Any]) -> dict[str, str]:
    return {
        reason["creator_id"]: reason["detail"]
        for reason in work["sale_status"]
        if reason["code"] == "awaiting_co_creator"
    }


async def test_a_changed_share_is_asked_again_and_the_work_waits_for_that_co_creator_alone(
    api: Api, session: AsyncSession, ines: Actor, omar: Actor, ada: Actor
) -> None:
    work_id = await _for_sale_with(api, session, ines, (ines, 6_000), (omar, 2_000), (ada, 2_000))

    changed = await _change(api, ines, work_id, (ines, 5_000), (omar, 3_000), (ada, 2_000))
    asked = await _invitation(api, omar, work_id)
    unchanged = await _invitation(api, ada, work_id)
    await _accept(api, omar, work_id)
    accepted = await api.work(ines, work_id)

    assert changed.status_code == 200, changed.text
    assert changed.json()["listed"] is False
    assert _awaiting(changed.json()) == {
        omar.subject: "Omar Creator has not accepted their share yet"
    }
    assert [(s["creator_id"], s["basis_points"]) for s in changed.json()["shares"]] == [
        (ines.subject, 5_000),
        (omar.subject, 3_000),
        (ada.subject, 2_000),
    ]
    assert (asked["status"], asked["basis_points"]) == ("pending", 3_000)
    assert (unchanged["status"], unchanged["basis_points"]) == ("accepted", 2_000)
    # Omar's consent stood all along; accepting the new share is all that was missing.
    assert accepted["listed"] is True
    assert (await outbox_topics(session)).count("invitation.sent") == 3


async def test_a_newly_named_co_creator_is_invited_and_a_decliner_may_be_left_out(
    api: Api, session: AsyncSession, ines: Actor, omar: Actor, ada: Actor
) -> None:
    await record_acting_creator(session, ada.caller)
    work_id = await _for_sale_with(api, session, ines, (ines, 7_000), (omar, 3_000))
    await _change(api, ines, work_id, (ines, 6_000), (omar, 3_000), (ada, 1_000))
    invitation = await _invitation(api, ada, work_id)
    await api.ok(ada, "POST", f"/v1/invitations/{invitation['id']}/decline")

    without_ada = await _change(api, ines, work_id, (ines, 7_000), (omar, 3_000))

    assert invitation["status"] == "pending"
    assert without_ada.status_code == 200, without_ada.text
    assert without_ada.json()["listed"] is True
    assert await api.ok(ada, "GET", "/v1/invitations") == []
    assert [s["creator_id"] for s in without_ada.json()["shares"]] == [ines.subject, omar.subject]


async def test_a_co_creator_who_has_not_declined_cannot_be_left_out(
    api: Api, session: AsyncSession, ines: Actor, omar: Actor
) -> None:
    work_id = await _for_sale_with(api, session, ines, (ines, 7_000), (omar, 3_000))

    refused = await _change(api, ines, work_id, (ines, 10_000))

    assert _codes(refused) == [("shares", "co_creator_left_out")]
    work = await api.work(ines, work_id)
    assert work["listed"] is True
    assert [s["basis_points"] for s in work["shares"]] == [7_000, 3_000]
    assert (await _invitation(api, omar, work_id))["status"] == "accepted"


async def test_bad_shares_change_nothing_and_only_the_owner_may_change_them(
    api: Api, session: AsyncSession, ines: Actor, omar: Actor
) -> None:
    work_id = await _for_sale_with(api, session, ines, (ines, 7_000), (omar, 3_000))
    topics = await outbox_topics(session)

    twice = await _change(api, ines, work_id, (ines, 5_000), (omar, 3_000), (omar, 2_000))
    short = await _change(api, ines, work_id, (ines, 5_000), (omar, 3_000))
    by_co_creator = await _change(api, omar, work_id, (ines, 1_000), (omar, 9_000))

    assert _codes(twice) == [("shares.2.creator_id", "duplicate")]
    assert _codes(short) == [("shares", "sum")]
    assert by_co_creator.status_code == 403
    work = await api.work(ines, work_id)
    assert (work["listed"], [s["basis_points"] for s in work["shares"]]) == (True, [7_000, 3_000])
    assert await outbox_topics(session) == topics


async def test_a_withdrawn_work_keeps_its_shares(
    api: Api, session: AsyncSession, ines: Actor, omar: Actor
) -> None:
    work_id = await _for_sale_with(api, session, ines, (ines, 7_000), (omar, 3_000))
    await api.ok(ines, "POST", f"/v1/works/{work_id}/withdraw")

    refused = await _change(api, ines, work_id, (ines, 5_000), (omar, 5_000))

    assert (refused.status_code, refused.json()["error"]) == (409, "WorkWithdrawn")


async def _sale_uses(session: AsyncSession) -> list[tuple[str, list[str]]]:
    statement = (
        select(OutboxDelivery.event_id, OutboxDelivery.topic, OutboxDelivery.payload)
        .where(
            OutboxDelivery.topic.in_(
                [Topic.CONSENT_GIVEN, Topic.CONSENT_REVISED, Topic.CONSENT_WITHDRAWN]
            )
        )
        .order_by(OutboxDelivery.id)
    )
    events = {
        event_id: (topic, payload) for event_id, topic, payload in await session.execute(statement)
    }
    return [(topic, payload["sale_uses"]) for topic, payload in events.values()]


async def test_consent_events_carry_the_uses_every_member_allows_together(
    api: Api, session: AsyncSession, ines: Actor, omar: Actor
) -> None:
    await record_acting_creator(session, omar.caller)
    work = await api.listed_work(
        ines, DATA, Use.TRAINING, shares=_shares((ines, 7_000), (omar, 3_000))
    )
    work_id = work["id"]
    await _accept(api, omar, work_id)
    await _consent(api, omar, work_id, Use.TRAINING, Use.EVALUATION)
    await api.ok(
        omar, "POST", f"/v1/works/{work_id}/consents/withdraw", json=WITHDRAWAL.model_dump()
    )
    # The owner's wider consent after Omar's withdrawal reopens nothing.
    await _consent(api, ines, work_id, Use.TRAINING, Use.EVALUATION)

    assert await _sale_uses(session) == [
        ("consent.given", []),
        ("consent.given", ["training"]),
        ("consent.withdrawn", []),
        ("consent.revised", []),
    ]
