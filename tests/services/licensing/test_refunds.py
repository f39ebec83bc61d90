"""A refund reverses the sale exactly; delivery's left-out works are refunded line by line."""

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.delivery import DeliveryExclusion, DeliveryIssued, DeliveryStatus
from services.contracts.events import EventEnvelope, Topic
from services.kit.db import utcnow
from services.licensing.models import LedgerPosting, LedgerTransaction
from tests.services.catalogue.helpers import Actor, outbox_topics
from tests.services.licensing.helpers import (
    Api,
    make_quote,
    quote_line,
    service_headers,
    top_up,
)


async def _count(session: AsyncSession, model: type[Any]) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _owed(api: Api, admin: Actor, creator: uuid.UUID) -> int:
    balances = await api.ok(admin, "GET", "/v1/balances", params={"owner_id": str(creator)})
    return sum(b["balance_minor"] for b in balances)


async def _sold(
    api: Api, session: AsyncSession, lab: Actor
) -> tuple[dict[str, Any], list[uuid.UUID]]:
    """A licence of two works (prices 1000 and 333) shared by three creators."""
    ines, omar, pia = (uuid.UUID(f"{digit}" * 32) for digit in (1, 2, 3))
    quote_id = await make_quote(
        session,
        lab.id,
        [
            quote_line(1000, [(ines, 5000), (omar, 5000)]),
            quote_line(333, [(omar, 3333), (pia, 3333), (ines, 3334)]),
        ],
    )
    await top_up(session, lab.id, 2000)
    return await api.bought(lab, str(quote_id)), [ines, omar, pia]


async def test_an_admin_refund_reverses_every_entry_and_revokes_the_licence(
    api: Api, session: AsyncSession, lab: Actor, admin: Actor
) -> None:
    licence, creators = await _sold(api, session, lab)
    # 333: fee 49, then 284 split 94.69 (ines), 94.66, 94.66: ines and then the smaller id
    # (omar's) get the two units left over.
    assert [await _owed(api, admin, c) for c in creators] == [425 + 95, 425 + 95, 94]

    refunded = await api.ok(
        admin, "POST", f"/v1/licences/{licence['id']}/refund", json={"reason": "duplicate order"}
    )

    assert (refunded["status"], refunded["refunded_minor"]) == ("refunded", 1333)
    assert refunded["refunded_at"] is not None
    assert {line["status"] for line in refunded["lines"]} == {"refunded"}
    assert await api.balance(lab, lab) == 2000
    assert [await _owed(api, admin, c) for c in creators] == [0, 0, 0]
    sale, refund = (
        await session.scalars(
            select(LedgerTransaction)
            .where(LedgerTransaction.licence_id == uuid.UUID(licence["id"]))
            .order_by(LedgerTransaction.kind.desc())
        )
    ).all()
    assert (sale.kind, refund.kind) == ("sale", "refund")
    amounts = {
        kind: sorted(
            (p.account_id, p.work_id, p.amount_minor)
            for p in await session.scalars(
                select(LedgerPosting).where(LedgerPosting.transaction_id == transaction.id)
            )
        )
        for kind, transaction in (("sale", sale), ("refund", refund))
    }
    assert sorted((a, w, -x) for a, w, x in amounts["sale"]) == amounts["refund"]
    assert (await outbox_topics(session))[-2:] == ["licence.refunded", "ledger.recorded"]
    again = await api.call(
        admin, "POST", f"/v1/licences/{licence['id']}/refund", json={"reason": "x"}
    )
    assert (again.status_code, again.json()["error"]) == (409, "LicenceRefunded")


async def test_a_refund_by_anyone_but_an_admin_is_forbidden_and_writes_nothing(
    api: Api, session: AsyncSession, lab: Actor, auditor: Actor, ines: Actor
) -> None:
    licence, _ = await _sold(api, session, lab)
    transactions, events = await _count(session, LedgerTransaction), await outbox_topics(session)

    for actor in (lab, auditor, ines):
        assert await api.refused(
            actor, "POST", f"/v1/licences/{licence['id']}/refund", json={"reason": "please"}
        ) == (403, "Forbidden")

    assert await _count(session, LedgerTransaction) == transactions
    assert await outbox_topics(session) == events
    assert (await api.ok(lab, "GET", f"/v1/licences/{licence['id']}"))["status"] == "active"
    assert await api.balance(lab, lab) == 2000 - 1333


def _issued(
    licence: dict[str, Any], *excluded: str, event_id: uuid.UUID | None = None
) -> dict[str, Any]:
    payload = DeliveryIssued(
        delivery_id=uuid.uuid4(),
        licence_id=licence["id"],
        buyer_id=licence["buyer_id"],
        status=DeliveryStatus.ISSUED,
        issued_at=utcnow(),
        manifest_key="manifests/x.json",
        manifest_sha256="0" * 64,
        key_id="k",
        entry_count=len(licence["lines"]) - len(excluded),
        excluded=[
            DeliveryExclusion(work_id=uuid.UUID(work_id), reason="withdrawn", detail="withdrawn")
            for work_id in excluded
        ],
        watermark_commitment="0" * 64,
    )
    envelope = EventEnvelope(
        id=event_id or uuid.uuid4(),
        topic=Topic.DELIVERY_ISSUED,
        source="delivery",
        occurred_at=utcnow(),
        payload=payload.model_dump(mode="json"),
    )
    return envelope.model_dump(mode="json")


async def _deliver(api: Api, event: dict[str, Any]) -> dict[str, Any]:
    response = await api.http.post("/internal/events", json=event, headers=service_headers())
    assert response.status_code == 200, response.text
    receipt: dict[str, Any] = response.json()
    return receipt


async def test_works_delivery_left_out_are_refunded_exactly_once(
    api: Api, session: AsyncSession, lab: Actor, admin: Actor
) -> None:
    licence, creators = await _sold(api, session, lab)
    left_out = licence["lines"][1]["work_id"]
    event = _issued(licence, left_out)

    first = await _deliver(api, event)
    duplicate = await _deliver(api, event)
    redelivered = await _deliver(api, _issued(licence, left_out, left_out))

    assert (first["duplicate"], duplicate["duplicate"], redelivered["duplicate"]) == (
        False,
        True,
        False,
    )
    after = await api.ok(lab, "GET", f"/v1/licences/{licence['id']}")
    assert (after["status"], after["refunded_minor"]) == ("active", 333)
    assert [(line["status"], line["excluded_reason"]) for line in after["lines"]] == [
        ("active", None),
        ("excluded", "withdrawn"),
    ]
    assert await api.balance(lab, lab) == 2000 - 1000
    assert [await _owed(api, admin, c) for c in creators] == [425, 425, 0]
    refunds = (
        await session.scalars(select(LedgerTransaction).where(LedgerTransaction.kind == "refund"))
    ).all()
    assert [(t.recorded_by, t.reference is not None) for t in refunds] == [(uuid.UUID(int=0), True)]
    assert (await outbox_topics(session)).count("licence.refunded") == 0
    statement = await api.ok(admin, "GET", "/v1/earnings", params={"creator_id": str(creators[2])})
    assert [
        (line["kind"], line["amount_minor"], line["refund_reason"]) for line in statement["lines"]
    ] == [
        ("refund", -94, "withdrawn_before_delivery"),
        ("sale", 94, None),
    ]

    whole = await api.ok(
        admin, "POST", f"/v1/licences/{licence['id']}/refund", json={"reason": "r"}
    )

    assert (whole["status"], whole["refunded_minor"]) == ("refunded", 1333)
    assert [line["status"] for line in whole["lines"]] == ["refunded", "excluded"]
    assert await api.balance(lab, lab) == 2000
    assert [await _owed(api, admin, c) for c in creators] == [0, 0, 0]
    check = await api.ok(admin, "GET", "/v1/ledger/check")
    assert (check["unbalanced_transactions"], check["totals"]) == ([], {"EUR": 0})


async def test_a_delivery_of_a_refunded_licence_changes_nothing(
    api: Api, session: AsyncSession, lab: Actor, admin: Actor
) -> None:
    licence, _ = await _sold(api, session, lab)
    await api.ok(admin, "POST", f"/v1/licences/{licence['id']}/refund", json={"reason": "r"})
    transactions = await _count(session, LedgerTransaction)

    await _deliver(api, _issued(licence, licence["lines"][0]["work_id"]))

    assert await _count(session, LedgerTransaction) == transactions
    assert await api.balance(lab, lab) == 2000


async def test_only_services_deliver_events(api: Api, session: AsyncSession, lab: Actor) -> None:
    licence, _ = await _sold(api, session, lab)

    response = await api.call(
        lab, "POST", "/internal/events", json=_issued(licence, licence["lines"][0]["work_id"])
    )

    assert response.status_code == 403
    assert (await api.ok(lab, "GET", f"/v1/licences/{licence['id']}"))["refunded_minor"] == 0
