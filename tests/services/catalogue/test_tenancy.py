"""Only the owner changes a work (admins may withdraw and review it), and nobody else learns
that a draft exists: every mutation, by every other kind of caller, changes nothing."""

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.access import record_acting_creator
from services.catalogue.models import Consent, Offer, WorkVersion
from services.contracts.catalogue import Use
from services.kit.outbox import OutboxDelivery
from storage.object_store import MiB
from tests.services.catalogue.helpers import (
    WITHDRAWAL,
    Actor,
    Api,
    consent_payload,
    count,
    create_work,
    list_work,
    offer_payload,
    sha256,
    work_payload,
)

LARGE = 12 * MiB


@dataclass(frozen=True)
class Mutation:
    method: str
    path: str
    body: dict[str, Any] | None = None


MUTATIONS = {
    "upload_target": Mutation("GET", "/upload"),
    "presign_parts": Mutation(
        "POST", "/upload/parts", {"parts": [{"part_number": 1, "sha256": sha256(b"x")}]}
    ),
    "complete_upload": Mutation("POST", "/upload/complete"),
    "new_version": Mutation(
        "POST", "/versions", {"file_name": "x.bin", "size": 3, "sha256": sha256(b"abc")}
    ),
    "give_consent": Mutation("POST", "/consents", consent_payload(Use.TRAINING)),
    "withdraw_consent": Mutation("POST", "/consents/withdraw", WITHDRAWAL.model_dump()),
    "set_offer": Mutation("PUT", "/offer", offer_payload(Use.TRAINING, price_minor=1)),
    "withdraw_work": Mutation("POST", "/withdraw"),
    "review": Mutation("POST", "/review", {"accept": True}),
}


async def _draft(api: Api, session: AsyncSession, owner: Actor, co_creator: Actor) -> str:
    """Consented, with a multipart upload pending: every mutation would succeed for the owner."""
    await record_acting_creator(session, co_creator.caller)
    created = await api.create_work(
        owner,
        b"",
        size=LARGE,
        sha256=sha256(b"large"),
        shares=[
            {"creator_id": owner.subject, "basis_points": 7000},
            {"creator_id": co_creator.subject, "basis_points": 3000},
        ],
    )
    work_id: str = created["work"]["id"]
    await api.ok(owner, "POST", f"/v1/works/{work_id}/consents", json=consent_payload(), status=201)
    return work_id


async def _listed(api: Api, session: AsyncSession, owner: Actor, co_creator: Actor) -> str:
    """Listed, with a new multipart version pending."""
    work = await create_work(session, owner=owner, co_creators=[co_creator])
    await list_work(session, work, owner=owner)
    await api.ok(
        owner,
        "POST",
        f"/v1/works/{work.id}/versions",
        json={"file_name": "v2.bin", "size": LARGE, "sha256": sha256(b"v2")},
    )
    assert (await api.work(owner, str(work.id)))["listed"] is True
    return str(work.id)


async def _state(api: Api, session: AsyncSession, owner: Actor, work_id: str) -> dict[str, Any]:
    return {
        "work": await api.work(owner, work_id),
        "versions": await count(session, WorkVersion),
        "consents": await count(session, Consent),
        "offers": await count(session, Offer),
        "events": await count(session, OutboxDelivery),
    }


@pytest.mark.parametrize("state", ["draft", "listed"])
@pytest.mark.parametrize("mutation", list(MUTATIONS))
async def test_nobody_but_the_owner_changes_a_work(
    api: Api,
    session: AsyncSession,
    ines: Actor,
    omar: Actor,
    lab: Actor,
    auditor: Actor,
    anonymous: Actor,
    state: str,
    mutation: str,
) -> None:
    # Omar co-created the work: he sees it in every state, and still may not change it.
    co_creator = omar
    stranger = Actor("00000000-0000-4000-8000-0000000000aa", omar.roles, "Stranger")
    make = _draft if state == "draft" else _listed
    work_id = await make(api, session, ines, co_creator)
    before = await _state(api, session, ines, work_id)
    call = MUTATIONS[mutation]
    hidden = 404 if state == "draft" else 403
    expected = {
        "another creator": (stranger, hidden),
        "a buyer": (lab, hidden),
        "an anonymous caller": (anonymous, hidden),
        "an auditor": (auditor, 403),
        "a co-creator": (co_creator, 403),
    }

    for who, (actor, status) in expected.items():
        response = await api.call(
            actor, call.method, f"/v1/works/{work_id}{call.path}", json=call.body
        )
        assert response.status_code == status, (who, response.text)
        assert response.json()["error"] == ("NotFound" if status == 404 else "Forbidden")

    assert await _state(api, session, ines, work_id) == before


@pytest.mark.parametrize("mutation", [m for m in MUTATIONS if m not in ("withdraw_work", "review")])
async def test_an_admin_may_not_act_for_the_owner(
    api: Api, session: AsyncSession, ines: Actor, omar: Actor, admin: Actor, mutation: str
) -> None:
    work_id = await _draft(api, session, ines, omar)
    before = await _state(api, session, ines, work_id)
    call = MUTATIONS[mutation]

    response = await api.call(admin, call.method, f"/v1/works/{work_id}{call.path}", json=call.body)

    assert response.status_code == 403, response.text
    assert await _state(api, session, ines, work_id) == before


async def test_a_draft_is_invisible_to_everyone_outside_it(
    api: Api, session: AsyncSession, ines: Actor, omar: Actor, lab: Actor, anonymous: Actor
) -> None:
    work = await create_work(session, owner=ines, title="Unfinished")

    for actor in (omar, lab, anonymous):
        for path in (f"/v1/works/{work.id}", f"/v1/works/{work.id}/signals"):
            response = await api.call(actor, "GET", path)
            assert (response.status_code, response.json()["error"]) == (404, "NotFound")
        batch = await api.ok(actor, "GET", "/v1/works", params={"id": str(work.id)})
        assert batch == []


async def test_only_a_creator_lists_a_work(
    api: Api, session: AsyncSession, lab: Actor, anonymous: Actor, admin: Actor
) -> None:
    for actor in (lab, anonymous, admin):
        response = await api.call(actor, "POST", "/v1/works", json=work_payload(b"data"))
        assert response.status_code == 403, response.text
    assert await count(session, WorkVersion) == 0


async def test_a_call_without_a_valid_token_is_refused(api: Api) -> None:
    response = await api.http.get("/v1/works/search")
    forged = await api.http.get("/v1/works/search", headers={"authorization": "Bearer not.a.token"})

    assert response.status_code == forged.status_code == 401


@pytest.mark.parametrize("mutation", [m for m in MUTATIONS if m != "review"])
async def test_the_owner_may_make_each_change(
    api: Api, session: AsyncSession, ines: Actor, omar: Actor, mutation: str
) -> None:
    work_id = await _draft(api, session, ines, omar)
    call = MUTATIONS[mutation]

    response = await api.call(ines, call.method, f"/v1/works/{work_id}{call.path}", json=call.body)

    assert response.status_code in (200, 201), response.text
