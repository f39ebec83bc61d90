"""A co-creator invited by email before they have an account: the work stays off sale
until the gateway claims the invitation for the account that verified the address, and
that account accepts and consents. Only the gateway, acting as itself, may claim."""

import hashlib
import uuid
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.access import record_acting_creator
from services.contracts.catalogue import Use
from services.contracts.roles import Role
from services.kit.internal_token import service_subject
from tests.services.catalogue.helpers import Actor, Api, consent_payload

DATA = b"a mural painted by two hands over one summer"
ADDRESS_KEY = hashlib.sha256(b"keyed hash of mila@example.org").hexdigest()


@pytest.fixture
def gateway() -> Actor:
    return Actor(subject=service_subject("gateway"), roles=frozenset({Role.SERVICE}), name=None)


@pytest.fixture
def mila() -> Actor:
    return Actor(subject=str(uuid.uuid4()), roles=frozenset({Role.CREATOR}), name="Mila Creator")


async def _invited(api: Api, owner: Actor, basis_points: int = 3_000) -> dict[str, Any]:
    work = await api.listed_work(owner, DATA, Use.TRAINING)
    assert work["listed"]
    invited: dict[str, Any] = await api.ok(
        owner,
        "POST",
        f"/v1/works/{work['id']}/address-invitations",
        json={"address_key": ADDRESS_KEY, "basis_points": basis_points},
    )
    return invited


def _claim(member: Actor) -> dict[str, Any]:
    return {"address_key": ADDRESS_KEY, "account_id": member.subject, "name": member.name}


def _shares(work: dict[str, Any]) -> dict[str, int]:
    return {share["creator_id"]: share["basis_points"] for share in work["shares"]}


async def test_an_invitation_by_email_keeps_the_work_off_sale_until_claimed_accepted_and_consented(
    api: Api, ines: Actor, mila: Actor, gateway: Actor
) -> None:
    invited = await _invited(api, ines)

    assert not invited["listed"]
    assert _shares(invited) == {ines.subject: 7_000}
    assert any(
        "invited by email" in reason["detail"] and reason["code"] == "awaiting_co_creator"
        for reason in invited["sale_status"]
    )
    assert await api.ok(mila, "GET", "/v1/invitations") == []

    claimed = await api.ok(gateway, "POST", "/v1/address-invitations/claim", json=_claim(mila))

    assert [(i["work_id"], i["status"], i["basis_points"]) for i in claimed] == [
        (invited["id"], "pending", 3_000)
    ]
    pending = await api.work(ines, invited["id"])
    assert not pending["listed"]
    assert _shares(pending) == {ines.subject: 7_000, mila.subject: 3_000}
    assert [reason["creator_id"] for reason in pending["sale_status"]] == [mila.subject]

    await api.ok(mila, "POST", f"/v1/invitations/{claimed[0]['id']}/accept")
    assert not (await api.work(ines, invited["id"]))["listed"]
    await api.ok(
        mila,
        "POST",
        f"/v1/works/{invited['id']}/consents",
        json=consent_payload(Use.TRAINING),
        status=201,
    )

    assert (await api.work(ines, invited["id"]))["listed"]
    again = await api.ok(gateway, "POST", "/v1/address-invitations/claim", json=_claim(mila))
    assert again == []


async def test_only_the_gateway_acting_as_itself_may_claim(
    api: Api, ines: Actor, mila: Actor
) -> None:
    invited = await _invited(api, ines)

    by_invitee = await api.call(mila, "POST", "/v1/address-invitations/claim", json=_claim(mila))
    by_owner = await api.call(ines, "POST", "/v1/address-invitations/claim", json=_claim(mila))

    assert by_invitee.status_code == 403
    assert by_owner.status_code == 403
    assert await api.ok(mila, "GET", "/v1/invitations") == []
    assert _shares(await api.work(ines, invited["id"])) == {ines.subject: 7_000}


async def test_a_share_beyond_the_owners_is_refused_and_changes_nothing(
    api: Api, ines: Actor
) -> None:
    work = await api.listed_work(ines, DATA, Use.TRAINING)

    refused = await api.call(
        ines,
        "POST",
        f"/v1/works/{work['id']}/address-invitations",
        json={"address_key": ADDRESS_KEY, "basis_points": 10_000},
    )

    assert refused.status_code == 400
    assert refused.json()["fields"][0]["code"] == "over_owner_share"
    after = await api.work(ines, work["id"])
    assert after["listed"]
    assert _shares(after) == {ines.subject: 10_000}


async def test_a_new_set_of_shares_withdraws_the_invitation_by_email(
    api: Api, session: AsyncSession, ines: Actor, omar: Actor, mila: Actor, gateway: Actor
) -> None:
    invited = await _invited(api, ines)
    await record_acting_creator(session, omar.caller)

    await api.ok(
        ines,
        "PUT",
        f"/v1/works/{invited['id']}/shares",
        json={
            "shares": [
                {"creator_id": ines.subject, "basis_points": 8_000},
                {"creator_id": omar.subject, "basis_points": 2_000},
            ]
        },
    )

    assert await api.ok(gateway, "POST", "/v1/address-invitations/claim", json=_claim(mila)) == []
    after = await api.work(ines, invited["id"])
    assert [reason["creator_id"] for reason in after["sale_status"]] == [omar.subject]
