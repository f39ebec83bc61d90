"""Co-creators the gateway confirmed from its own accounts join the directory with the
work that names them, before their `account.registered` arrives; no one else may do that."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.models import Creator
from tests.fixtures.internal_keys import signer
from tests.services.catalogue.helpers import Actor, Api, count, work_payload


def _duet(
    owner: Actor, partner: uuid.UUID, *, confirmed: list[dict[str, str]]
) -> dict[str, object]:
    shares = [
        {"creator_id": owner.subject, "basis_points": 7_000},
        {"creator_id": str(partner), "basis_points": 3_000},
    ]
    return work_payload(b"duet", shares=shares, confirmed_creators=confirmed)


async def test_a_creator_the_gateway_confirmed_is_accepted_before_its_registration_arrives(
    api: Api, session: AsyncSession, ines: Actor
) -> None:
    partner, bystander = uuid.uuid4(), uuid.uuid4()
    confirmed = [
        {"id": str(partner), "name": "Sam Idowu"},
        {"id": str(bystander), "name": "Not on this work"},
    ]

    created = await api.ok(
        ines, "POST", "/v1/works", json=_duet(ines, partner, confirmed=confirmed), status=201
    )

    assert [(s["creator_id"], s["creator_name"]) for s in created["work"]["shares"]] == [
        (ines.subject, "Ines Creator"),
        (str(partner), "Sam Idowu"),
    ]
    # Only the co-creators the work names are recorded.
    assert await count(session, Creator) == 2


async def test_a_confirmation_from_another_issuer_is_refused(
    api: Api, session: AsyncSession, ines: Actor
) -> None:
    partner = uuid.uuid4()
    token = signer("licensing").sign(
        subject=ines.subject, roles=ines.roles, audience="catalogue", name=ines.name
    )
    payload = _duet(ines, partner, confirmed=[{"id": str(partner), "name": "Forged"}])

    response = await api.http.post(
        "/v1/works", json=payload, headers={"authorization": f"Bearer {token}"}
    )

    # Only the gateway calls on a user's behalf: licensing's key cannot create a work.
    assert response.status_code == 403, response.text
    assert response.json()["detail"] == (
        "a token from licensing may act only as licensing, never for a user"
    )
    assert await count(session, Creator) == 0
