"""The creator directory: fed by `account.registered`, and by creators' own calls."""

import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.models import Creator
from services.contracts.events import AccountRegistered, EventEnvelope, Topic
from services.contracts.roles import Role
from tests.services.catalogue.helpers import Actor, Api, count, work_payload

RELAY = Actor("service:gateway", frozenset({Role.SERVICE}), None)


def _registered(account_id: uuid.UUID, name: str, *roles: str) -> dict[str, object]:
    envelope = EventEnvelope(
        id=uuid.uuid4(),
        topic=Topic.ACCOUNT_REGISTERED,
        source="gateway",
        occurred_at=datetime.now(UTC),
        payload=AccountRegistered(account_id=account_id, name=name, roles=list(roles)).model_dump(
            mode="json"
        ),
    )
    return envelope.model_dump(mode="json")


async def test_a_registered_creator_joins_the_directory_once(
    api: Api, session: AsyncSession, lab: Actor
) -> None:
    account_id = uuid.uuid4()
    event = _registered(account_id, "Aiko Painter", "creator")

    first = await api.ok(RELAY, "POST", "/internal/events", json=event)
    again = await api.ok(RELAY, "POST", "/internal/events", json=event)
    buyer = await api.ok(
        RELAY, "POST", "/internal/events", json=_registered(uuid.uuid4(), "A lab", "buyer")
    )

    assert (first["duplicate"], again["duplicate"], buyer["duplicate"]) == (False, True, False)
    assert await count(session, Creator) == 1
    found = await api.ok(lab, "GET", "/v1/creators", params={"id": str(account_id)})
    assert found == [{"id": str(account_id), "name": "Aiko Painter"}]


async def test_only_a_service_delivers_events(api: Api, ines: Actor) -> None:
    response = await api.call(
        ines, "POST", "/internal/events", json=_registered(ines.id, "Me", "creator")
    )

    assert response.status_code == 403


async def test_a_creator_is_known_from_its_first_call_before_the_event_arrives(
    api: Api, session: AsyncSession, ines: Actor, omar: Actor, lab: Actor
) -> None:
    await api.ok(RELAY, "POST", "/internal/events", json=_registered(omar.id, "Omar", "creator"))

    created = await api.create_work(
        ines,
        b"a duet",
        shares=[
            {"creator_id": ines.subject, "basis_points": 6000},
            {"creator_id": omar.subject, "basis_points": 4000},
        ],
    )
    # The event for Ines arrives late, with the same name: nothing changes.
    await api.ok(
        RELAY, "POST", "/internal/events", json=_registered(ines.id, "Ines Creator", "creator")
    )

    assert [(s["creator_name"], s["basis_points"]) for s in created["work"]["shares"]] == [
        ("Ines Creator", 6000),
        ("Omar", 4000),
    ]
    creators = await api.ok(
        lab, "GET", "/v1/creators", params=[("id", omar.subject), ("id", ines.subject)]
    )
    assert [c["name"] for c in creators] == ["Omar", "Ines Creator"]


async def test_shares_must_name_known_distinct_creators_summing_to_the_whole(
    api: Api, session: AsyncSession, ines: Actor, omar: Actor
) -> None:
    unknown = str(uuid.uuid4())
    await api.ok(RELAY, "POST", "/internal/events", json=_registered(omar.id, "Omar", "creator"))
    cases = {
        "sum": [
            {"creator_id": ines.subject, "basis_points": 5000},
            {"creator_id": omar.subject, "basis_points": 4000},
        ],
        "unknown_creator": [
            {"creator_id": ines.subject, "basis_points": 5000},
            {"creator_id": unknown, "basis_points": 5000},
        ],
        "duplicate": [
            {"creator_id": omar.subject, "basis_points": 5000},
            {"creator_id": omar.subject, "basis_points": 5000},
        ],
    }

    for code, shares in cases.items():
        response = await api.call(ines, "POST", "/v1/works", json=work_payload(b"x", shares=shares))
        assert response.status_code == 400, response.text
        assert code in {f["code"] for f in response.json()["fields"]}

    # Refused requests change nothing, not even Ines's own entry in the directory.
    assert await count(session, Creator) == 1
