"""A work's terms as TDMRep, ODRL and C2PA values, for the creator to publish."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.consent.service import consent_service
from services.catalogue.offer.service import offer_service
from services.contracts.catalogue import OfferIn, Terms, Use
from tests.services.catalogue.helpers import WITHDRAWAL, Actor, Api, create_work, list_work


def _entries(signals: dict[str, Any]) -> dict[str, str]:
    c2pa = signals["c2pa"]
    assert c2pa["label"] == "cawg.training-mining"
    return {label: entry["use"] for label, entry in c2pa["data"]["entries"].items()}


async def test_a_listed_work_publishes_its_offer_in_each_vocabulary(
    api: Api, session: AsyncSession, ines: Actor, lab: Actor
) -> None:
    work = await create_work(session, owner=ines)
    await list_work(session, work, owner=ines, uses=[Use.TRAINING, Use.RETRIEVAL, Use.EVALUATION])
    await offer_service.set_offer(
        session,
        ines.caller,
        work.id,
        OfferIn(
            price_minor=1250,
            currency="EUR",
            terms=Terms(
                uses=[Use.RETRIEVAL, Use.TRAINING],
                commercial_use=False,
                attribution_required=True,
                territory=["GB", "DE"],
                duration_days=365,
                max_models=3,
            ),
        ),
    )

    signals = await api.ok(lab, "GET", f"/v1/works/{work.id}/signals")

    tdm = signals["tdmrep"]
    assert tdm["tdm-reservation"] == 1
    policy = tdm["tdm-policy"]
    assert policy["profile"] == "http://www.w3.org/ns/tdmrep"
    assert policy["@type"] == "Offer"
    assert policy["permission"][0]["action"] == "tdm:mine"
    compensate = policy["permission"][0]["duty"][0]["action"][0]
    assert compensate["refinement"][0]["rightOperand"] == {
        "@value": "12.50",
        "@type": "xsd:decimal",
    }
    assert compensate["refinement"][0]["unit"] == "http://cvx.iptc.org/iso4217a/EUR"

    odrl = signals["odrl"]
    assert odrl["@context"] == "http://www.w3.org/ns/odrl.jsonld"
    assert odrl["@type"] == "Offer"
    assert odrl["target"] == f"urn:assent:work:{work.id}"
    purposes = [p["action"]["refinement"][0]["rightOperand"]["@id"] for p in odrl["permission"]]
    assert purposes == ["urn:assent:use:retrieval", "urn:assent:use:training"]
    retrieval, training = odrl["permission"]
    assert {c["leftOperand"]: c["rightOperand"] for c in training["constraint"]} == {
        "elapsedTime": {"@value": "P365D", "@type": "xsd:duration"},
        "spatial": ["DE", "GB"],
        "count": 3,
    }
    assert "count" not in {c["leftOperand"] for c in retrieval["constraint"]}
    assert {"action": "attribute"} in training["duty"]
    assert odrl["prohibition"] == [
        {"target": f"urn:assent:work:{work.id}", "action": "commercialize"}
    ]

    assert _entries(signals) == {
        "cawg.ai_training": "constrained",
        "cawg.ai_generative_training": "constrained",
        "cawg.ai_inference": "constrained",
        "cawg.data_mining": "constrained",
    }
    inference = signals["c2pa"]["data"]["entries"]["cawg.ai_inference"]
    assert "12.50 EUR" in inference["constraint_info"]
    assert "retrieval" in inference["constraint_info"]


async def test_only_the_offered_uses_are_constrained_the_rest_not_allowed(
    api: Api, session: AsyncSession, ines: Actor
) -> None:
    work = await create_work(session, owner=ines)
    await list_work(session, work, owner=ines, uses=[Use.EVALUATION])

    signals = await api.ok(ines, "GET", f"/v1/works/{work.id}/signals")

    assert _entries(signals) == {
        "cawg.ai_training": "notAllowed",
        "cawg.ai_generative_training": "notAllowed",
        "cawg.ai_inference": "constrained",
        "cawg.data_mining": "constrained",
    }


async def test_without_consent_in_force_everything_is_reserved_and_nothing_offered(
    api: Api, session: AsyncSession, ines: Actor
) -> None:
    unconsented = await create_work(session, owner=ines)
    withdrawn = await create_work(session, owner=ines)
    await list_work(session, withdrawn, owner=ines)
    await consent_service.withdraw_consent(session, ines.caller, withdrawn.id, WITHDRAWAL)

    for work in (unconsented, withdrawn):
        signals = await api.ok(ines, "GET", f"/v1/works/{work.id}/signals")
        assert signals["tdmrep"] == {"tdm-reservation": 1}
        assert signals["odrl"]["permission"] == []
        assert set(_entries(signals).values()) == {"notAllowed"}
