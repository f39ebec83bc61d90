"""Licensing sells only what is for sale when the sale commits, and a sale stands.

The catalogue's consent and withdrawal events reach licensing, which records each
work's sale scope. A sale committed before the record keeps its lines; a sale after it
leaves out (and does not charge) the lines it closed.
"""

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.catalogue import Use
from services.contracts.events import Topic
from services.kit.outbox import OutboxDelivery
from services.licensing.models import LedgerPosting, LedgerTransaction
from tests.services.catalogue.helpers import Actor
from tests.services.licensing.helpers import (
    Api,
    catalogue_event,
    make_quote,
    quote_line,
    service_headers,
    top_up,
)


async def deliver(api: Api, *events: dict[str, Any]) -> None:
    """Deliver events as the catalogue's relay does: one batch, one transaction."""
    response = await api.http.post(
        "/internal/events/batch",
        json={"events": list(events)},
        headers=service_headers("catalogue"),
    )
    assert response.status_code == 200, response.text


async def _scope_events(session: AsyncSession) -> list[dict[str, Any]]:
    statement = (
        select(OutboxDelivery.payload)
        .where(OutboxDelivery.topic == Topic.SALE_SCOPE_RECORDED)
        .order_by(OutboxDelivery.id)
    )
    return list((await session.scalars(statement)).all())


async def _sold_work_ids(session: AsyncSession, licence_id: str) -> set[uuid.UUID | None]:
    statement = (
        select(LedgerPosting.work_id)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerPosting.transaction_id)
        .where(LedgerTransaction.licence_id == uuid.UUID(licence_id))
    )
    return set((await session.scalars(statement)).all())


def _statuses(licence: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    return [(line["work_id"], line["status"], line["excluded_reason"]) for line in licence["lines"]]


async def test_a_sale_committed_before_the_withdrawal_is_granted_and_stays_granted(
    api: Api, session: AsyncSession, lab: Actor
) -> None:
    line = quote_line(1200, [(uuid.uuid4(), 10_000)])
    quote_id = await make_quote(session, lab.id, [line])
    await top_up(session, lab.id, 5000)
    licence = await api.bought(lab, str(quote_id))

    withdrawal = catalogue_event(Topic.WORK_WITHDRAWN, line.work_id)
    await deliver(api, withdrawal)

    after = await api.ok(lab, "GET", f"/v1/licences/{licence['id']}")
    assert _statuses(after) == [(str(line.work_id), "active", None)]
    assert (after["total_minor"], after["refunded_minor"]) == (1200, 0)
    assert await api.balance(lab, lab) == 3800
    [recorded] = await _scope_events(session)
    assert (recorded["work_id"], recorded["open_uses"]) == (str(line.work_id), [])
    assert (recorded["cause_event_id"], recorded["cause_topic"]) == (
        withdrawal["id"],
        "work.withdrawn",
    )


async def test_a_purchase_after_the_withdrawal_leaves_the_work_out_and_charges_nothing_for_it(
    api: Api, session: AsyncSession, lab: Actor, admin: Actor
) -> None:
    withdrawn = quote_line(1200, [(uuid.uuid4(), 10_000)], title="Withdrawn")
    kept = quote_line(300, [(uuid.uuid4(), 10_000)], title="Kept")
    quote_id = await make_quote(session, lab.id, [withdrawn, kept])
    await top_up(session, lab.id, 5000)
    await deliver(api, catalogue_event(Topic.WORK_WITHDRAWN, withdrawn.work_id))

    licence = await api.bought(lab, str(quote_id))

    assert _statuses(licence) == [
        (str(withdrawn.work_id), "excluded", "withdrawn"),
        (str(kept.work_id), "active", None),
    ]
    assert (licence["total_minor"], licence["platform_fee_minor"]) == (
        300,
        kept.platform_fee_minor,
    )
    assert await api.balance(lab, lab) == 5000 - 300
    assert await _sold_work_ids(session, licence["id"]) == {None, kept.work_id}
    check = await api.ok(admin, "GET", "/v1/ledger/check")
    assert (check["unbalanced_transactions"], check["balance_mismatches"]) == ([], [])


async def test_consent_narrowed_leaves_out_the_uses_it_no_longer_covers_until_given_again(
    api: Api, session: AsyncSession, lab: Actor
) -> None:
    line = quote_line(500, [(uuid.uuid4(), 10_000)])
    first = await make_quote(session, lab.id, [line, quote_line(1, [(uuid.uuid4(), 10_000)])])
    second = await make_quote(session, lab.id, [line])
    await top_up(session, lab.id, 5000)
    await deliver(api, catalogue_event(Topic.CONSENT_REVISED, line.work_id, [Use.RETRIEVAL]))

    narrowed = await api.bought(lab, str(first), "first")
    await deliver(
        api, catalogue_event(Topic.CONSENT_GIVEN, line.work_id, [Use.TRAINING, Use.RETRIEVAL])
    )
    given_again = await api.bought(lab, str(second), "second")

    assert _statuses(narrowed)[0] == (str(line.work_id), "excluded", "no_consent")
    assert _statuses(given_again) == [(str(line.work_id), "active", None)]
    assert [event["open_uses"] for event in await _scope_events(session)] == [
        ["retrieval"],
        ["retrieval", "training"],
    ]


async def test_a_withdrawn_work_stays_closed_whatever_consent_follows(
    api: Api, session: AsyncSession, lab: Actor
) -> None:
    line = quote_line(500, [(uuid.uuid4(), 10_000)])
    quote_id = await make_quote(session, lab.id, [line])
    await top_up(session, lab.id, 5000)
    await deliver(
        api,
        catalogue_event(Topic.WORK_WITHDRAWN, line.work_id),
        catalogue_event(Topic.CONSENT_GIVEN, line.work_id, [Use.TRAINING]),
    )

    response = await api.buy(lab, str(quote_id))

    assert (response.status_code, response.json()["error"]) == (409, "NothingToPurchase")
    assert await api.balance(lab, lab) == 5000
    assert (await api.ok(lab, "GET", f"/v1/quotes/{quote_id}"))["status"] == "open"
    assert [event["open_uses"] for event in await _scope_events(session)] == [[], []]


def _with_sale_uses(event: dict[str, Any], *uses: Use) -> dict[str, Any]:
    """A consent event as the catalogue sends it for a co-created work: it names the
    uses every member's consents allow together."""
    event["payload"]["sale_uses"] = list(uses)
    return event


async def test_one_members_consent_does_not_reopen_what_anothers_withdrawal_closed(
    api: Api, session: AsyncSession, lab: Actor
) -> None:
    line = quote_line(500, [(uuid.uuid4(), 7_000), (uuid.uuid4(), 3_000)])
    quote_id = await make_quote(session, lab.id, [line])
    await top_up(session, lab.id, 5000)
    owner_consents, co_creator_consents, co_creator_withdraws, owner_revises = (
        _with_sale_uses(catalogue_event(Topic.CONSENT_GIVEN, line.work_id, [Use.TRAINING])),
        _with_sale_uses(
            catalogue_event(Topic.CONSENT_GIVEN, line.work_id, [Use.TRAINING]), Use.TRAINING
        ),
        _with_sale_uses(catalogue_event(Topic.CONSENT_WITHDRAWN, line.work_id)),
        _with_sale_uses(
            catalogue_event(Topic.CONSENT_REVISED, line.work_id, [Use.TRAINING, Use.RETRIEVAL])
        ),
    )
    await deliver(api, owner_consents, co_creator_consents, co_creator_withdraws, owner_revises)

    response = await api.buy(lab, str(quote_id))

    assert (response.status_code, response.json()["error"]) == (409, "NothingToPurchase")
    assert await api.balance(lab, lab) == 5000
    assert [event["open_uses"] for event in await _scope_events(session)] == [
        [],
        ["training"],
        [],
        [],
    ]
