"""The own-site kit: what a creator publishes on their site says what a buyer could
license on Assent right now, in RSL, TDMRep and robots.txt."""

import xml.etree.ElementTree as ET
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.consent.service import consent_service
from services.catalogue.models import Work, WorkVersion
from services.catalogue.offer.service import offer_service
from services.catalogue.ownsite.files import RETRIEVAL_CRAWLERS, TRAINING_CRAWLERS
from services.catalogue.work.service import work_service
from services.contracts.catalogue import OfferIn, Terms, Use
from tests.services.catalogue.helpers import Actor, Api, consent_in, create_work, list_work

KIT_URL = "https://assent.example/own-site"
RSL = "{https://rslstandard.org/rsl}"


async def _kit(api: Api, actor: Actor, work: Work) -> dict[str, Any]:
    kit: dict[str, Any] = await api.ok(
        actor, "GET", f"/v1/works/{work.id}/own-site", params={"kit_url": KIT_URL}
    )
    return kit


def _licences(kit: dict[str, Any]) -> dict[str, ET.Element]:
    """Each `<content>`'s licences by url, the document checked for RSL's namespace."""
    root = ET.fromstring(kit["rsl"])  # noqa: S314 - the catalogue's own output, no entities
    assert root.tag == f"{RSL}rsl"
    return {content.attrib["url"]: content for content in root.iter(f"{RSL}content")}


def _terms(licence: ET.Element) -> dict[str, str]:
    """A `<license>`'s permits and prohibits by type, and its payment."""
    found = {
        f"{element.tag.removeprefix(RSL)}:{element.attrib['type']}": element.text or ""
        for element in licence
        if element.tag in (f"{RSL}permits", f"{RSL}prohibits")
    }
    payment = licence.find(f"{RSL}payment")
    assert payment is not None
    found["payment"] = payment.attrib["type"]
    amount = payment.find(f"{RSL}amount")
    if amount is not None:
        found["amount"] = f"{amount.text} {amount.attrib['currency']}"
    return found


def _robots_rules(robots: str) -> dict[str, list[str]]:
    """Each user agent's Allow and Disallow lines."""
    rules: dict[str, list[str]] = {}
    agents: list[str] = []
    for line in robots.splitlines():
        field, _, value = line.partition(": ")
        if field == "User-agent":
            agents = [*agents, value] if agents and not rules.get(agents[-1]) else [value]
            rules[value] = []
        elif field in ("Allow", "Disallow"):
            for agent in agents:
                rules[agent].append(f"{field}: {value}")
    return rules


async def _offer(session: AsyncSession, owner: Actor, work: Work, **terms: Any) -> None:
    await offer_service.set_offer(
        session,
        owner.caller,
        work.id,
        OfferIn(
            price_minor=1250,
            currency="EUR",
            terms=Terms(
                **{
                    "commercial_use": True,
                    "attribution_required": False,
                    "duration_days": 365,
                    **terms,
                }
            ),
        ),
    )


async def test_a_listed_works_kit_carries_its_offer(
    api: Api, session: AsyncSession, ines: Actor, lab: Actor
) -> None:
    work = await create_work(session, owner=ines)
    uses = [Use.TRAINING, Use.FINE_TUNING, Use.RETRIEVAL]
    await list_work(session, work, owner=ines, uses=uses)
    await _offer(session, ines, work, uses=uses, territory=["GB", "DE"], commercial_use=False)

    kit = await _kit(api, lab, work)

    (content,) = _licences(kit).values()
    assert content.attrib["url"] == "/*work.bin$"
    paid, search = content.findall(f"{RSL}license")
    assert _terms(paid) == {
        "permits:usage": "ai-train ai-input ai-index",
        "permits:geo": "DE GB",
        "prohibits:user": "commercial",
        "payment": "purchase",
        "amount": "12.50 EUR",
    }
    assert _terms(search) == {"permits:usage": "search", "payment": "free"}

    policy_url = f"{KIT_URL}/works/{work.id}/tdm-policy.json"
    assert kit["tdmrep"] == [
        {"location": "/*work.bin$", "tdm-reservation": 1, "tdm-policy": policy_url}
    ]
    permission = kit["tdm_policy"]["permission"][0]
    assert permission["action"] == "tdm:mine"
    assert permission["target"] == f"urn:assent:work:{work.id}"

    assert f"License: {KIT_URL}/works/{work.id}/licence.xml" in kit["robots"].splitlines()
    rules = _robots_rules(kit["robots"])
    assert set(rules) == {*TRAINING_CRAWLERS, *RETRIEVAL_CRAWLERS}
    assert all(lines == ["Allow: /*work.bin$"] for lines in rules.values())


async def test_training_not_consented_keeps_training_crawlers_out(
    api: Api, session: AsyncSession, ines: Actor, lab: Actor
) -> None:
    work = await create_work(session, owner=ines)
    await list_work(session, work, owner=ines, uses=[Use.RETRIEVAL])

    kit = await _kit(api, lab, work)

    rules = _robots_rules(kit["robots"])
    assert {agent: rules[agent] for agent in TRAINING_CRAWLERS} == {
        agent: ["Disallow: /*work.bin$"] for agent in TRAINING_CRAWLERS
    }
    assert {agent: rules[agent] for agent in RETRIEVAL_CRAWLERS} == {
        agent: ["Allow: /*work.bin$"] for agent in RETRIEVAL_CRAWLERS
    }
    paid, _search = _licences(kit)["/*work.bin$"].findall(f"{RSL}license")
    assert _terms(paid)["permits:usage"] == "ai-input ai-index"


async def test_an_offer_wider_than_the_consent_reserves_everything(
    api: Api, session: AsyncSession, ines: Actor, lab: Actor, admin: Actor
) -> None:
    work = await create_work(session, owner=ines)
    await list_work(session, work, owner=ines, uses=[Use.TRAINING, Use.RETRIEVAL])
    # The creator narrows their consent: the offer now asks for more than it covers.
    await consent_service.give_consent(session, ines.caller, work.id, consent_in(Use.RETRIEVAL))

    kit = await _kit(api, ines, work)

    (licence,) = _licences(kit)["/*work.bin$"].findall(f"{RSL}license")
    assert _terms(licence) == {
        "permits:usage": "search",
        "prohibits:usage": "ai-all",
        "payment": "free",
    }
    assert kit["tdmrep"] == [{"location": "/*work.bin$", "tdm-reservation": 1, "tdm-policy": None}]
    assert kit["tdm_policy"] is None
    rules = _robots_rules(kit["robots"])
    assert all(lines == ["Disallow: /*work.bin$"] for lines in rules.values())
    # Hidden from buyers as the work is; an admin sees the work but it is not theirs.
    params = {"kit_url": KIT_URL}
    path = f"/v1/works/{work.id}/own-site"
    assert await api.refused(lab, "GET", path, params=params) == (404, "NotFound")
    assert await api.refused(admin, "GET", path, params=params) == (403, "Forbidden")


async def test_a_withdrawal_reaches_the_kit(api: Api, session: AsyncSession, ines: Actor) -> None:
    work = await create_work(session, owner=ines)
    await list_work(session, work, owner=ines, uses=[Use.TRAINING, Use.RETRIEVAL])
    await work_service.withdraw(session, ines.caller, work.id)

    kit = await _kit(api, ines, work)

    assert all(
        lines == ["Disallow: /*work.bin$"] for lines in _robots_rules(kit["robots"]).values()
    )


async def test_a_file_name_cannot_write_robots_lines(
    api: Api, session: AsyncSession, ines: Actor, lab: Actor
) -> None:
    work = await create_work(session, owner=ines)
    version = await session.scalar(select(WorkVersion).where(WorkVersion.work_id == work.id))
    assert version is not None
    version.file_name = "a*b$.png\nUser-agent: *\nAllow: /"
    await list_work(session, work, owner=ines, uses=[Use.RETRIEVAL])

    kit = await _kit(api, lab, work)

    location = "/*a%2Ab%24.png%0AUser-agent%3A%20%2A%0AAllow%3A%20%2F$"
    assert kit["tdmrep"][0]["location"] == location
    assert "User-agent: *" not in kit["robots"].splitlines()
    assert set(_licences(kit)) == {location}


async def test_a_creators_kit_covers_their_listed_works(
    api: Api, session: AsyncSession, ines: Actor, omar: Actor, lab: Actor
) -> None:
    trained = await create_work(session, owner=ines)
    await list_work(session, trained, owner=ines, uses=[Use.TRAINING])
    co_created = await create_work(session, owner=omar, co_creators=[ines])
    await list_work(session, co_created, owner=omar, uses=[Use.RETRIEVAL])
    await create_work(session, owner=ines)  # not listed: not in the kit
    for work, name in ((trained, "trained.png"), (co_created, "shared.png")):
        version = await session.scalar(select(WorkVersion).where(WorkVersion.work_id == work.id))
        assert version is not None
        version.file_name = name
    await session.flush()

    kit = await api.ok(lab, "GET", f"/v1/creators/{ines.id}/own-site", params={"kit_url": KIT_URL})

    assert set(_licences(kit)) == {"/*trained.png$", "/*shared.png$"}
    assert {rule["location"]: rule.get("tdm-policy") for rule in kit["tdmrep"]} == {
        "/*trained.png$": f"{KIT_URL}/works/{trained.id}/tdm-policy.json",
        "/*shared.png$": f"{KIT_URL}/works/{co_created.id}/tdm-policy.json",
    }
    assert f"License: {KIT_URL}/creators/{ines.id}/licence.xml" in kit["robots"]
    rules = _robots_rules(kit["robots"])
    assert sorted(rules["GPTBot"]) == ["Allow: /*trained.png$", "Disallow: /*shared.png$"]
    assert sorted(rules["PerplexityBot"]) == ["Allow: /*shared.png$", "Disallow: /*trained.png$"]
    assert kit["tdm_policy"] is None


async def test_the_kit_refuses_an_unknown_creator_and_a_bad_kit_url(
    api: Api, session: AsyncSession, ines: Actor, lab: Actor
) -> None:
    work = await create_work(session, owner=ines)
    path = f"/v1/works/{work.id}/own-site"
    bad = await api.call(ines, "GET", path, params={"kit_url": "javascript:alert(1)"})
    assert bad.status_code == 422
    unknown = f"/v1/creators/{lab.id}/own-site"
    assert await api.refused(lab, "GET", unknown, params={"kit_url": KIT_URL}) == (
        404,
        "NotFound",
    )
