"""Canonical terms: one JSON text, and so one id, per meaning."""

import hashlib
import json

import pytest
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.terms import canonical_json, terms_id
from services.contracts.catalogue import Terms, Use
from tests.services.catalogue.helpers import Actor, Api, create_work, list_work, offer_payload


def _terms(**overrides: object) -> Terms:
    fields: dict[str, object] = {
        "uses": [Use.TRAINING, Use.EVALUATION],
        "commercial_use": True,
        "attribution_required": False,
        "territory": ["GB", "DE"],
        "duration_days": 30,
    }
    fields.update(overrides)
    return Terms.model_validate(fields)


def test_order_and_repetition_do_not_change_the_canonical_form() -> None:
    a = canonical_json(_terms())
    b = canonical_json(
        _terms(uses=[Use.EVALUATION, Use.TRAINING, Use.TRAINING], territory=["DE", "GB", "DE"])
    )

    assert a == b
    assert json.loads(a)["uses"] == ["evaluation", "training"]
    assert json.loads(a)["territory"] == ["DE", "GB"]


def test_the_canonical_form_has_sorted_keys_and_no_whitespace() -> None:
    canonical = canonical_json(_terms())

    assert canonical == json.dumps(json.loads(canonical), sort_keys=True, separators=(",", ":"))
    assert list(json.loads(canonical)) == sorted(json.loads(canonical))


def test_the_world_covers_every_territory() -> None:
    assert json.loads(canonical_json(_terms(territory=["FR", "WORLD"])))["territory"] == ["WORLD"]


def test_the_id_is_the_sha256_of_the_canonical_text() -> None:
    canonical = canonical_json(_terms())

    assert terms_id(canonical) == hashlib.sha256(canonical.encode()).hexdigest()
    assert terms_id(canonical) != terms_id(canonical_json(_terms(duration_days=31)))


async def test_a_territory_that_is_no_country_is_refused_and_the_offer_unchanged(
    api: Api, session: AsyncSession, ines: Actor
) -> None:
    work = await create_work(session, owner=ines)
    await list_work(session, work, owner=ines)
    path = f"/v1/works/{work.id}/offer"
    before = (await api.work(ines, str(work.id)))["offer"]

    response = await api.call(
        ines, "PUT", path, json=offer_payload(Use.TRAINING, territory=["GB", "ZZ", "XK"])
    )

    assert response.status_code == 400, response.text
    assert response.json()["error"] == "InvalidRequest"
    [field] = response.json()["fields"]
    assert (field["field"], field["code"]) == ("terms.territory", "unknown_territory")
    assert field["message"] == (
        "Not a country we know: ZZ, XK. Choose countries from the list, or worldwide."
    )
    assert (await api.work(ines, str(work.id)))["offer"] == before


async def test_territories_of_iso_3166_and_the_world_are_offered(
    api: Api, session: AsyncSession, ines: Actor
) -> None:
    work = await create_work(session, owner=ines)
    await list_work(session, work, owner=ines)

    offer = await api.ok(
        ines,
        "PUT",
        f"/v1/works/{work.id}/offer",
        json=offer_payload(Use.TRAINING, territory=["GB", "BR", "AQ"]),
    )

    assert offer["terms"]["territory"] == ["AQ", "BR", "GB"]


@pytest.mark.parametrize("territory", ["gb", "GBR", "EU-27", "", "world"])
def test_a_territory_not_shaped_as_a_country_code_is_refused_by_the_contract(
    territory: str,
) -> None:
    with pytest.raises(ValidationError) as refused:
        _terms(territory=[territory])

    [error] = refused.value.errors()
    assert error["type"] == "territory"
    assert "ISO 3166-1 alpha-2" in error["msg"]
