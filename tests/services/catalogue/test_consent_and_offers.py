"""Consent is an append-only record of opt-ins; offers sit within it, at a price, on terms."""

import hashlib
import json
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.models import Consent, Offer, TermsRecord
from services.contracts.catalogue import MAX_PRICE_MINOR, Use
from services.kit.outbox import OutboxDelivery
from tests.services.catalogue.helpers import (
    OPT_IN,
    WITHDRAWAL,
    Actor,
    Api,
    consent_payload,
    count,
    offer_payload,
    outbox_topics,
    terms_payload,
)

DATA = b"a field recording of rain on a tin roof"


async def _created(api: Api, actor: Actor, data: bytes = DATA) -> str:
    work_id: str = (await api.create_work(actor, data))["work"]["id"]
    return work_id


async def _consents(session: AsyncSession, work_id: str) -> list[dict[str, Any]]:
    rows = (
        await session.scalars(
            select(Consent)
            .where(Consent.work_id == work_id)
            .order_by(Consent.sequence)
            .execution_options(populate_existing=True)
        )
    ).all()
    return [
        {
            "sequence": row.sequence,
            "kind": row.kind,
            "uses": row.uses,
            "statement_version": row.statement_version,
            "given_at": row.given_at,
        }
        for row in rows
    ]


async def test_consent_is_given_revised_withdrawn_and_given_again_as_new_records(
    api: Api, ines: Actor, session: AsyncSession
) -> None:
    work_id = await _created(api, ines)
    path = f"/v1/works/{work_id}/consents"

    given = await api.ok(ines, "POST", path, json=consent_payload(Use.TRAINING), status=201)
    after_first = await _consents(session, work_id)
    revised = await api.ok(
        ines,
        "POST",
        path,
        json=consent_payload(Use.RETRIEVAL, Use.TRAINING, Use.TRAINING),
        status=201,
    )
    withdrawn = await api.ok(ines, "POST", f"{path}/withdraw", json=WITHDRAWAL.model_dump())
    again = await api.ok(ines, "POST", path, json=consent_payload(Use.EVALUATION), status=201)

    assert [c["kind"] for c in (given, revised, withdrawn, again)] == [
        "given",
        "revised",
        "withdrawn",
        "given",
    ]
    assert [c["sequence"] for c in (given, revised, withdrawn, again)] == [1, 2, 3, 4]
    assert revised["uses"] == ["retrieval", "training"]
    assert withdrawn["uses"] == []
    assert (withdrawn["statement_id"], withdrawn["statement_version"]) == ("withdrawal", "1")
    assert withdrawn["attestation"] is None
    assert withdrawn["given_by"] == ines.subject
    rows = await _consents(session, work_id)
    assert len(rows) == 4
    assert rows[0] == after_first[0], "an earlier record was changed"
    assert (await api.work(ines, work_id))["consent"]["id"] == again["id"]


async def test_each_consent_record_reaches_the_outbox_with_the_statement_hash(
    api: Api, ines: Actor, session: AsyncSession
) -> None:
    work_id = await _created(api, ines)
    path = f"/v1/works/{work_id}/consents"

    given = await api.ok(ines, "POST", path, json=consent_payload(), status=201)
    await api.ok(ines, "POST", path, json=consent_payload(Use.EVALUATION), status=201)
    await api.ok(ines, "POST", f"{path}/withdraw", json=WITHDRAWAL.model_dump())

    assert await outbox_topics(session) == ["consent.given", "consent.revised", "consent.withdrawn"]
    deliveries = (
        await session.scalars(select(OutboxDelivery).where(OutboxDelivery.topic == "consent.given"))
    ).all()
    assert sorted(delivery.destination for delivery in deliveries) == ["audit", "licensing"]
    event = deliveries[0]
    assert event.payload == {
        "consent_id": given["id"],
        "work_id": work_id,
        "kind": "given",
        "uses": ["fine_tuning", "training"],
        "statement_id": "opt-in",
        "statement_version": "1",
        "statement_sha256": OPT_IN.sha256,
        "statement_text": OPT_IN.text,
        "attestation": {
            "owns_rights": True,
            "depicts_identifiable_people": False,
            "holds_releases": False,
        },
        "given_by": ines.subject,
        "given_at": event.payload["given_at"],
        # No co-creators: the owner's uses are the work's.
        "sale_uses": ["fine_tuning", "training"],
    }


async def test_withdrawing_without_a_consent_in_force_is_refused(
    api: Api, ines: Actor, session: AsyncSession
) -> None:
    work_id = await _created(api, ines)

    never_given = await api.call(
        ines, "POST", f"/v1/works/{work_id}/consents/withdraw", json=WITHDRAWAL.model_dump()
    )

    assert (never_given.status_code, never_given.json()["error"]) == (409, "ConsentNotInForce")
    assert await count(session, Consent) == 0


async def test_an_offer_needs_a_consent_in_force(
    api: Api, ines: Actor, session: AsyncSession
) -> None:
    work_id = await _created(api, ines)
    path = f"/v1/works/{work_id}/offer"

    unconsented = await api.call(ines, "PUT", path, json=offer_payload())
    await api.ok(ines, "POST", f"/v1/works/{work_id}/consents", json=consent_payload(), status=201)
    await api.ok(
        ines, "POST", f"/v1/works/{work_id}/consents/withdraw", json=WITHDRAWAL.model_dump()
    )
    withdrawn = await api.call(ines, "PUT", path, json=offer_payload())

    for response in (unconsented, withdrawn):
        assert response.status_code == 409
        assert response.json()["error"] == "ConsentRequired"
    assert await count(session, Offer) == 0


async def test_an_offer_may_not_reach_beyond_the_consent_nor_use_an_unknown_currency(
    api: Api, ines: Actor, session: AsyncSession
) -> None:
    work_id = await _created(api, ines)
    await api.ok(
        ines,
        "POST",
        f"/v1/works/{work_id}/consents",
        json=consent_payload(Use.TRAINING),
        status=201,
    )

    response = await api.call(
        ines,
        "PUT",
        f"/v1/works/{work_id}/offer",
        json=offer_payload(Use.TRAINING, Use.SYNTHETIC_DATA, currency="XTS"),
    )

    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "InvalidRequest"
    assert {(f["field"], f["code"]) for f in body["fields"]} == {
        ("currency", "unknown_currency"),
        ("terms.uses", "not_consented"),
    }
    assert (
        "synthetic_data"
        in next(f for f in body["fields"] if f["code"] == "not_consented")["message"]
    )
    assert await count(session, Offer) == 0
    assert await count(session, TermsRecord) == 0


@pytest.mark.parametrize("price_minor", [-1, 0, MAX_PRICE_MINOR + 1, 10**30])
async def test_a_negative_or_absurd_price_is_refused(
    api: Api, ines: Actor, session: AsyncSession, price_minor: int
) -> None:
    work_id = await _created(api, ines)
    await api.ok(ines, "POST", f"/v1/works/{work_id}/consents", json=consent_payload(), status=201)

    response = await api.call(
        ines, "PUT", f"/v1/works/{work_id}/offer", json=offer_payload(price_minor=price_minor)
    )

    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "body.price_minor"
    assert await count(session, Offer) == 0


async def test_equal_terms_share_one_id_whatever_their_order(
    api: Api, ines: Actor, omar: Actor, session: AsyncSession
) -> None:
    first = await _created(api, ines)
    second = await _created(api, omar, b"another recording")
    uses = (Use.TRAINING, Use.EVALUATION)
    for actor, work_id in ((ines, first), (omar, second)):
        await api.ok(
            actor, "POST", f"/v1/works/{work_id}/consents", json=consent_payload(*uses), status=201
        )

    a = await api.ok(
        ines,
        "PUT",
        f"/v1/works/{first}/offer",
        json=offer_payload(Use.TRAINING, Use.EVALUATION, territory=["GB", "DE", "GB"]),
    )
    b = await api.ok(
        omar,
        "PUT",
        f"/v1/works/{second}/offer",
        json=offer_payload(Use.EVALUATION, Use.TRAINING, price_minor=99, territory=["DE", "GB"]),
    )
    c = await api.ok(
        omar,
        "PUT",
        f"/v1/works/{second}/offer",
        json=offer_payload(Use.EVALUATION, Use.TRAINING, territory=["DE"]),
    )

    assert a["terms_id"] == b["terms_id"] != c["terms_id"]
    assert a["terms"]["uses"] == ["evaluation", "training"]
    assert a["terms"]["territory"] == ["DE", "GB"]
    record = await session.get(TermsRecord, a["terms_id"])
    assert record is not None
    assert hashlib.sha256(record.canonical_json.encode()).hexdigest() == a["terms_id"]
    assert json.loads(record.canonical_json)["uses"] == ["evaluation", "training"]
    assert " " not in record.canonical_json
    assert await count(session, TermsRecord) == 2


async def test_a_new_offer_supersedes_the_last_which_stays_on_record(
    api: Api, ines: Actor, session: AsyncSession
) -> None:
    work_id = await _created(api, ines)
    await api.ok(ines, "POST", f"/v1/works/{work_id}/consents", json=consent_payload(), status=201)
    path = f"/v1/works/{work_id}/offer"

    first = await api.ok(ines, "PUT", path, json=offer_payload(price_minor=1000))
    second = await api.ok(ines, "PUT", path, json=offer_payload(price_minor=1500))

    assert (await api.work(ines, work_id))["offer"]["id"] == second["id"]
    kept = await session.get(Offer, first["id"])
    assert kept is not None
    assert kept.price_minor == 1000
    assert await count(session, Offer, work_id=kept.work_id) == 2
    published = (
        await session.scalars(
            select(OutboxDelivery.payload).where(OutboxDelivery.topic == "offer.published")
        )
    ).all()
    assert [p["price_minor"] for p in published] == [1000, 1500]
    assert published[1]["terms"] == second["terms"]
    assert published[1]["terms_id"] == second["terms_id"]


async def test_terms_keep_every_field_of_the_offer(api: Api, ines: Actor) -> None:
    work_id = await _created(api, ines)
    await api.ok(ines, "POST", f"/v1/works/{work_id}/consents", json=consent_payload(), status=201)
    terms = terms_payload(
        Use.FINE_TUNING,
        commercial_use=False,
        attribution_required=False,
        territory=["WORLD", "FR"],
        duration_days=90,
        exclusivity_days=30,
        max_models=2,
    )

    offer = await api.ok(
        ines,
        "PUT",
        f"/v1/works/{work_id}/offer",
        json={"price_minor": 1200, "currency": "JPY", "terms": terms},
    )

    assert offer["terms"] == {**terms, "uses": ["fine_tuning"], "territory": ["WORLD"]}
    assert offer["currency"] == "JPY"
