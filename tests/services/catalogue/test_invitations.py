"""Co-creators consent for themselves: each named co-creator is invited to their share,
and the work is for sale only while every one of them has accepted and consents to the
uses offered. The work says why it is not for sale, naming who is missing."""

import uuid
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.access import record_acting_creator
from services.contracts.catalogue import Use
from services.contracts.roles import Role
from tests.services.catalogue.helpers import (
    WITHDRAWAL,
    Actor,
    Api,
    consent_payload,
    outbox_topics,
)

DATA = b"a duet for cello and voice, recorded live"


@pytest.fixture
def ada() -> Actor:
    return Actor(subject=str(uuid.uuid4()), roles=frozenset({Role.CREATOR}), name="Ada Creator")


def _shares(owner: Actor, *co_creators: Actor) -> list[dict[str, Any]]:
    each = 2_000
    return [
        {"creator_id": owner.subject, "basis_points": 10_000 - each * len(co_creators)},
        *({"creator_id": member.subject, "basis_points": each} for member in co_creators),
    ]


async def _co_created(
    api: Api, session: AsyncSession, owner: Actor, *co_creators: Actor
) -> dict[str, Any]:
    """A work priced and consented to by its owner, naming the co-creators."""
    for member in co_creators:
        await record_acting_creator(session, member.caller)
    return await api.listed_work(owner, DATA, Use.TRAINING, shares=_shares(owner, *co_creators))


async def _invitation(api: Api, member: Actor, work_id: str) -> dict[str, Any]:
    invitations = await api.ok(member, "GET", "/v1/invitations")
    found: dict[str, Any] = next(i for i in invitations if i["work_id"] == work_id)
    return found


async def _accept_and_consent(api: Api, member: Actor, work_id: str, *uses: Use) -> None:
    invitation = await _invitation(api, member, work_id)
    await api.ok(member, "POST", f"/v1/invitations/{invitation['id']}/accept")
    await api.ok(
        member,
        "POST",
        f"/v1/works/{work_id}/consents",
        json=consent_payload(*(uses or (Use.TRAINING,))),
        status=201,
    )


def _awaiting(work: dict[str, Any]) -> dict[str, str]:
    return {
        reason["creator_id"]: reason["detail"]
        for reason in work["sale_status"]
        if reason["code"] == "awaiting_co_creator"
    }


async def test_a_work_waits_for_every_co_creator_and_says_who(
    api: Api, session: AsyncSession, ines: Actor, omar: Actor, ada: Actor
) -> None:
    work = await _co_created(api, session, ines, omar, ada)
    work_id = work["id"]

    await _accept_and_consent(api, omar, work_id)
    halfway = await api.work(ines, work_id)
    await _accept_and_consent(api, ada, work_id)
    whole = await api.work(ines, work_id)

    assert work["listed"] is False
    assert _awaiting(work) == {
        omar.subject: "Omar Creator has not accepted their share yet",
        ada.subject: "Ada Creator has not accepted their share yet",
    }
    assert halfway["listed"] is False
    assert list(_awaiting(halfway)) == [ada.subject]
    assert whole["listed"] is True
    assert whole["sale_status"] == []


async def test_a_co_creator_consents_only_after_accepting(
    api: Api, session: AsyncSession, ines: Actor, omar: Actor
) -> None:
    work_id = (await _co_created(api, session, ines, omar))["id"]
    path = f"/v1/works/{work_id}/consents"

    before = await api.call(omar, "POST", path, json=consent_payload(Use.TRAINING))
    invitation = await _invitation(api, omar, work_id)
    await api.ok(omar, "POST", f"/v1/invitations/{invitation['id']}/accept")
    after = await api.ok(omar, "POST", path, json=consent_payload(Use.TRAINING), status=201)

    assert before.status_code == 403
    assert after["given_by"] == omar.subject
    assert after["kind"] == "given"


async def test_an_invitation_is_answered_once_and_by_its_co_creator_only(
    api: Api, session: AsyncSession, ines: Actor, omar: Actor, ada: Actor
) -> None:
    work_id = (await _co_created(api, session, ines, omar))["id"]
    invitation = await _invitation(api, omar, work_id)
    accept = f"/v1/invitations/{invitation['id']}/accept"

    by_owner = await api.call(ines, "POST", accept)
    by_stranger = await api.call(ada, "POST", f"/v1/invitations/{invitation['id']}/decline")
    first = await api.ok(omar, "POST", accept)
    second = await api.call(omar, "POST", accept)

    assert by_owner.status_code == 404
    assert by_stranger.status_code == 404
    assert first["status"] == "accepted"
    assert second.status_code == 409
    assert second.json()["error"] == "InvitationAnswered"
    assert (await _invitation(api, omar, work_id))["status"] == "accepted"


async def test_a_declined_share_keeps_the_work_off_sale(
    api: Api, session: AsyncSession, ines: Actor, omar: Actor
) -> None:
    work_id = (await _co_created(api, session, ines, omar))["id"]
    invitation = await _invitation(api, omar, work_id)

    declined = await api.ok(omar, "POST", f"/v1/invitations/{invitation['id']}/decline")
    work = await api.work(ines, work_id)

    assert declined["status"] == "declined"
    assert work["listed"] is False
    assert _awaiting(work) == {omar.subject: "Omar Creator declined their share"}


async def test_a_co_creator_consent_narrower_than_the_offer_keeps_it_off_sale(
    api: Api, session: AsyncSession, ines: Actor, omar: Actor
) -> None:
    work_id = (await _co_created(api, session, ines, omar))["id"]

    await _accept_and_consent(api, omar, work_id, Use.EVALUATION)
    work = await api.work(ines, work_id)

    assert work["listed"] is False
    assert _awaiting(work) == {omar.subject: "Omar Creator has not consented to: training"}


async def test_a_co_creator_withdrawing_takes_the_work_off_sale(
    api: Api, session: AsyncSession, ines: Actor, omar: Actor
) -> None:
    work_id = (await _co_created(api, session, ines, omar))["id"]
    await _accept_and_consent(api, omar, work_id)
    listed = await api.work(ines, work_id)

    withdrawal = await api.ok(
        omar,
        "POST",
        f"/v1/works/{work_id}/consents/withdraw",
        json=WITHDRAWAL.model_dump(),
    )
    work = await api.work(ines, work_id)

    assert listed["listed"] is True
    assert withdrawal["kind"] == "withdrawn"
    assert withdrawal["given_by"] == omar.subject
    assert work["listed"] is False
    assert _awaiting(work) == {omar.subject: "Omar Creator has not given their consent"}


async def test_invitations_and_answers_reach_the_outbox(
    api: Api, session: AsyncSession, ines: Actor, omar: Actor
) -> None:
    work_id = (await _co_created(api, session, ines, omar))["id"]
    await _accept_and_consent(api, omar, work_id)

    topics = await outbox_topics(session)

    assert topics.count("invitation.sent") == 1
    assert topics.count("invitation.accepted") == 1
    assert topics.index("invitation.accepted") < len(topics) - 1 - topics[::-1].index(
        "consent.given"
    )


async def test_a_work_without_co_creators_says_what_it_lacks(api: Api, ines: Actor) -> None:
    created = await api.create_work(ines, DATA)

    work = await api.work(ines, created["work"]["id"])

    assert [reason["code"] for reason in work["sale_status"]] == [
        "no_file",
        "no_consent",
        "no_offer",
    ]
