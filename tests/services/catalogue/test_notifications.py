"""Creators' notifications: each event the catalogue receives tells the people it
concerns once, however often it is delivered; each person reads, marks and chooses only
their own."""

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.access import record_acting_creator
from services.catalogue.notification.models import Notification
from services.contracts.catalogue import Use, WorkReviewed
from services.contracts.events import EventEnvelope, Topic
from services.contracts.licensing import (
    LedgerAccountKind,
    LedgerRecorded,
    PostingRead,
    TransactionKind,
    TransactionRead,
)
from services.contracts.roles import Role
from services.kit.outbox import OutboxDelivery
from tests.fixtures.internal_keys import signer
from tests.services.catalogue.helpers import Actor, Api

DATA = b"a song for two voices, notated"


async def _deliver_twice(api: Api, issuer: str, envelope: dict[str, Any]) -> None:
    token = signer(issuer).sign(
        subject=f"service:{issuer}", roles=frozenset({Role.SERVICE}), audience="catalogue"
    )
    headers = {"authorization": f"Bearer {token}"}
    receipts = [
        (await api.http.post("/internal/events", json=envelope, headers=headers)).json()
        for _ in range(2)
    ]
    assert [receipt["duplicate"] for receipt in receipts] == [False, True], receipts


async def _deliver_outbox(api: Api, session: AsyncSession) -> None:
    """What the catalogue's relay would post to the catalogue itself, each event twice."""
    rows = await session.scalars(
        select(OutboxDelivery)
        .where(OutboxDelivery.destination == "catalogue", OutboxDelivery.delivered_at.is_(None))
        .order_by(OutboxDelivery.id)
    )
    for row in list(rows):
        envelope = EventEnvelope(
            id=row.event_id,
            topic=Topic(row.topic),
            source="catalogue",
            occurred_at=row.occurred_at,
            payload=row.payload,
        )
        await _deliver_twice(api, "catalogue", envelope.model_dump(mode="json"))
        row.delivered_at = datetime.now(UTC)
    await session.flush()


async def _notifications(api: Api, actor: Actor) -> dict[str, Any]:
    page: dict[str, Any] = await api.ok(actor, "GET", "/v1/notifications")
    return page


@pytest.fixture
async def shared_work(api: Api, session: AsyncSession, ines: Actor, omar: Actor) -> dict[str, Any]:
    """Ines's work naming Omar as co-creator for a fifth; Omar accepts."""
    await record_acting_creator(session, omar.caller)
    shares = [
        {"creator_id": ines.subject, "basis_points": 8_000},
        {"creator_id": omar.subject, "basis_points": 2_000},
    ]
    return await api.listed_work(ines, DATA, Use.TRAINING, title="Duet", shares=shares)


async def test_an_invitation_and_its_answer_each_notify_once(
    api: Api, session: AsyncSession, ines: Actor, omar: Actor, shared_work: dict[str, Any]
) -> None:
    await _deliver_outbox(api, session)

    invited = await _notifications(api, omar)
    assert invited["unread"] == 1
    (note,) = invited["items"]
    assert note["kind"] == "invitation"
    assert note["text"] == "Ines Creator invites you to co-create “Duet” for a 20% share."
    assert (await _notifications(api, ines))["items"] == []

    await api.ok(omar, "POST", f"/v1/invitations/{note['invitation_id']}/accept")
    await _deliver_outbox(api, session)

    answered = await _notifications(api, ines)
    assert [item["text"] for item in answered["items"]] == [
        "Omar Creator accepted your invitation to co-create “Duet”."
    ]


def _recorded(kind: TransactionKind, *postings: PostingRead) -> dict[str, Any]:
    now = datetime.now(UTC)
    transaction = TransactionRead(
        id=uuid.uuid4(),
        kind=kind,
        currency="EUR",
        licence_id=None,
        reference=None,
        recorded_by=uuid.uuid4(),
        recorded_at=now,
        postings=list(postings),
    )
    envelope = EventEnvelope(
        id=uuid.uuid4(),
        topic=Topic.LEDGER_RECORDED,
        source="licensing",
        occurred_at=now,
        payload=LedgerRecorded(transaction=transaction).model_dump(mode="json"),
    )
    return envelope.model_dump(mode="json")


def _posting(
    kind: LedgerAccountKind, owner: uuid.UUID | None, amount: int, work: Any
) -> PostingRead:
    return PostingRead(account_kind=kind, owner_id=owner, amount_minor=amount, work_id=work)


async def test_a_sale_tells_each_creator_their_net_share_once(
    api: Api, ines: Actor, omar: Actor, shared_work: dict[str, Any]
) -> None:
    work = shared_work["id"]
    sale = _recorded(
        TransactionKind.SALE,
        _posting(LedgerAccountKind.BUYER_BALANCE, uuid.uuid4(), -2_500, None),
        _posting(LedgerAccountKind.PLATFORM_REVENUE, None, 375, work),
        _posting(LedgerAccountKind.CREATOR_PAYABLE, ines.id, 1_700, work),
        _posting(LedgerAccountKind.CREATOR_PAYABLE, omar.id, 425, work),
    )

    await _deliver_twice(api, "licensing", sale)

    def sales(page: dict[str, Any]) -> list[tuple[int, str]]:
        return [(i["amount_minor"], i["text"]) for i in page["items"] if i["kind"] == "sale"]

    assert sales(await _notifications(api, ines)) == [
        (1_700, "“Duet” licensed: your share is 17.00 EUR after the platform's fee.")
    ]
    assert sales(await _notifications(api, omar)) == [
        (425, "“Duet” licensed: your share is 4.25 EUR after the platform's fee.")
    ]


async def test_a_payout_sent_then_returned_tells_its_creator_each_once(
    api: Api, ines: Actor, omar: Actor, shared_work: dict[str, Any]
) -> None:
    sent = _recorded(
        TransactionKind.PAYOUT_SENT,
        _posting(LedgerAccountKind.CREATOR_PAYABLE, omar.id, -425, None),
        _posting(LedgerAccountKind.IN_PAYMENT, omar.id, 425, None),
    )
    returned = _recorded(
        TransactionKind.PAYOUT_RETURNED,
        _posting(LedgerAccountKind.IN_PAYMENT, omar.id, -425, None),
        _posting(LedgerAccountKind.CREATOR_PAYABLE, omar.id, 425, None),
    )

    await _deliver_twice(api, "licensing", sent)
    await _deliver_twice(api, "licensing", returned)

    payouts = [i for i in (await _notifications(api, omar))["items"] if i["kind"] == "payout"]
    assert [i["text"] for i in payouts] == [
        "Your bank returned the transfer of 4.25 EUR: it is yours again, paid with the next "
        "run to the account you confirm.",
        "A transfer of 4.25 EUR is on its way to your bank.",
    ]
    assert (await _notifications(api, ines))["items"] == []


async def test_a_withdrawal_and_a_review_notify_the_creators_once(
    api: Api, session: AsyncSession, ines: Actor, omar: Actor, shared_work: dict[str, Any]
) -> None:
    await _deliver_outbox(api, session)
    await api.ok(ines, "POST", f"/v1/works/{shared_work['id']}/withdraw")
    await _deliver_outbox(api, session)
    reviewed = WorkReviewed(
        work_id=shared_work["id"],
        reviewed_by=uuid.uuid4(),
        reviewed_at=datetime.now(UTC),
        accepted=False,
        note="It matches a work already listed.",
    )
    envelope = EventEnvelope(
        id=uuid.uuid4(),
        topic=Topic.WORK_REVIEWED,
        source="catalogue",
        occurred_at=reviewed.reviewed_at,
        payload=reviewed.model_dump(mode="json"),
    )
    await _deliver_twice(api, "catalogue", envelope.model_dump(mode="json"))

    withdrawn = "“Duet” is withdrawn: it is sold no more, and what was sold before stays licensed."
    assert [i["text"] for i in (await _notifications(api, ines))["items"]] == [
        "“Duet” was refused at review and is withdrawn. The reviewer's note: It matches a "
        "work already listed.",
        withdrawn,
    ]
    omars = [i["text"] for i in (await _notifications(api, omar))["items"]]
    assert omars.count(withdrawn) == 1


async def test_a_person_marks_only_their_own_notifications_read(
    api: Api, session: AsyncSession, ines: Actor, omar: Actor, shared_work: dict[str, Any]
) -> None:
    await _deliver_outbox(api, session)
    (omars,) = (await _notifications(api, omar))["items"]

    await api.ok(ines, "POST", "/v1/notifications/read", json={"ids": [omars["id"]]})
    assert (await _notifications(api, omar))["unread"] == 1

    marked = await api.ok(omar, "POST", "/v1/notifications/read", json={"ids": []})
    assert marked["unread"] == 0
    assert marked["items"][0]["read_at"] is not None


async def test_invitations_are_mailed_unless_a_person_chooses_otherwise(
    api: Api, ines: Actor, omar: Actor, shared_work: dict[str, Any]
) -> None:
    assert await api.ok(omar, "GET", "/v1/notification-settings") == {"mailed": ["invitation"]}

    chosen = await api.ok(
        omar, "PUT", "/v1/notification-settings", json={"mailed": ["sale", "withdrawal"]}
    )
    refused = await api.call(omar, "PUT", "/v1/notification-settings", json={"mailed": ["spam"]})

    assert chosen == {"mailed": ["sale", "withdrawal"]}
    assert refused.status_code == 422
    assert await api.ok(omar, "GET", "/v1/notification-settings") == chosen
    assert await api.ok(ines, "GET", "/v1/notification-settings") == {"mailed": ["invitation"]}


GATEWAY = Actor("service:gateway", frozenset({Role.SERVICE}), None)


async def test_only_the_kinds_a_person_chose_are_leased_for_mail_once_each(
    api: Api, session: AsyncSession, ines: Actor, omar: Actor, shared_work: dict[str, Any]
) -> None:
    await api.ok(ines, "PUT", "/v1/notification-settings", json={"mailed": ["withdrawal"]})
    await _deliver_outbox(api, session)  # Omar's invitation: mailed by default
    await api.ok(ines, "POST", f"/v1/works/{shared_work['id']}/withdraw")
    await _deliver_outbox(api, session)  # a withdrawal: mailed to Ines, who chose it, only

    refused = await api.call(ines, "POST", "/v1/notifications/mail/lease")
    leased = await api.ok(GATEWAY, "POST", "/v1/notifications/mail/lease")
    again = await api.ok(GATEWAY, "POST", "/v1/notifications/mail/lease")

    assert refused.status_code == 403
    assert sorted((mail["creator_id"], mail["kind"]) for mail in leased) == sorted(
        [(omar.subject, "invitation"), (ines.subject, "withdrawal")]
    )
    assert again == []  # leased: another sender does not take them meanwhile
    for mail in leased:
        await api.ok(GATEWAY, "POST", f"/v1/notifications/{mail['id']}/mailed", json={"sent": True})
    mailed = await session.scalars(select(Notification).where(Notification.mailed_at.is_not(None)))
    assert {row.id for row in mailed} == {uuid.UUID(mail["id"]) for mail in leased}
