"""Top-ups and payouts are safe to retry, and money goes only to a buyer that exists."""

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.events import AccountRegistered, AccountRoleGranted, Topic
from services.contracts.roles import Role
from services.licensing.models import LedgerTransaction
from tests.fixtures.internal_keys import signer
from tests.services.catalogue.helpers import Actor
from tests.services.licensing.helpers import (
    Api,
    make_quote,
    quote_line,
    service_headers,
    top_up,
)


async def _transactions(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count(LedgerTransaction.id))) or 0)


def _top_up(buyer: Actor, reference: str, **fields: Any) -> dict[str, Any]:
    return {
        "buyer_id": buyer.subject,
        "amount_minor": 2500,
        "currency": "EUR",
        "reference": reference,
        **fields,
    }


async def _announce(api: Api, topic: Topic, payload: dict[str, Any]) -> None:
    """Deliver an event from the gateway's outbox, as its relay would."""
    envelope = {
        "id": str(uuid.uuid4()),
        "topic": topic,
        "source": "gateway",
        "occurred_at": datetime.now(UTC).isoformat(),
        "payload": payload,
    }
    response = await api.http.post(
        "/internal/events", json=envelope, headers=service_headers("gateway")
    )
    assert response.status_code == 200, response.text


async def _register(api: Api, actor: Actor) -> None:
    registered = AccountRegistered(
        account_id=actor.id, name=actor.name or "", roles=sorted(actor.roles)
    )
    await _announce(api, Topic.ACCOUNT_REGISTERED, registered.model_dump(mode="json"))


async def test_a_retried_top_up_answers_the_same_transaction_and_credits_once(
    api: Api, session: AsyncSession, lab: Actor, admin: Actor
) -> None:
    await _register(api, lab)

    first = await api.ok(
        admin, "POST", "/v1/ledger/top-ups", json=_top_up(lab, "wire 41"), status=201
    )
    again = await api.ok(
        admin, "POST", "/v1/ledger/top-ups", json=_top_up(lab, "wire 41"), status=201
    )

    assert again == first
    assert await api.balance(lab, lab) == 2500
    assert await _transactions(session) == 1


async def test_another_payment_under_a_recorded_reference_is_refused(
    api: Api, session: AsyncSession, lab: Actor, rival: Actor, admin: Actor
) -> None:
    await _register(api, lab)
    await _register(api, rival)
    await api.ok(admin, "POST", "/v1/ledger/top-ups", json=_top_up(lab, "wire 42"), status=201)

    for other in (
        _top_up(lab, "wire 42", amount_minor=2501),
        _top_up(lab, "wire 42", currency="GBP"),
        _top_up(rival, "wire 42"),
    ):
        assert await api.refused(admin, "POST", "/v1/ledger/top-ups", json=other) == (
            409,
            "ReferenceReused",
        )

    assert (await api.balance(lab, lab), await api.balance(rival, rival)) == (2500, 0)
    assert await _transactions(session) == 1


async def test_a_retried_payout_pays_once_and_another_under_its_reference_is_refused(
    api: Api, session: AsyncSession, lab: Actor, ines: Actor, omar: Actor, admin: Actor
) -> None:
    quote_id = await make_quote(
        session, lab.id, [quote_line(1000, [(ines.id, 5000), (omar.id, 5000)])]
    )
    await top_up(session, lab.id, 1000)
    await api.bought(lab, str(quote_id))
    payout = {"creator_id": ines.subject, "amount_minor": 300, "currency": "EUR"}

    first = await api.ok(
        admin, "POST", "/v1/ledger/payouts", json={**payout, "reference": "SEPA 7"}, status=201
    )
    again = await api.ok(
        admin, "POST", "/v1/ledger/payouts", json={**payout, "reference": "SEPA 7"}, status=201
    )
    more = await api.refused(
        admin,
        "POST",
        "/v1/ledger/payouts",
        json={**payout, "amount_minor": 100, "reference": "SEPA 7"},
    )
    to_omar = await api.refused(
        admin,
        "POST",
        "/v1/ledger/payouts",
        json={**payout, "creator_id": omar.subject, "reference": "SEPA 7"},
    )

    assert again == first
    assert more == to_omar == (409, "ReferenceReused")
    assert await api.balance(ines, ines, "creator_payable") == 425 - 300
    assert await api.balance(omar, omar, "creator_payable") == 425


async def test_a_top_up_of_an_account_licensing_never_heard_of_is_refused(
    api: Api, session: AsyncSession, lab: Actor, admin: Actor
) -> None:
    response = await api.call(admin, "POST", "/v1/ledger/top-ups", json=_top_up(lab, "w"))

    assert response.status_code == 400
    assert [(f["field"], f["code"]) for f in response.json()["fields"]] == [
        ("buyer_id", "unknown_account")
    ]
    assert await _transactions(session) == 0


async def test_a_creators_account_is_never_topped_up_until_it_is_made_a_buyer(
    api: Api, session: AsyncSession, ines: Actor, admin: Actor
) -> None:
    await _register(api, ines)

    response = await api.call(admin, "POST", "/v1/ledger/top-ups", json=_top_up(ines, "w1"))
    granted = AccountRoleGranted(
        account_id=ines.id, name="Ines Creator", role=Role.BUYER, granted_by=admin.id
    )
    await _announce(api, Topic.ACCOUNT_ROLE_GRANTED, granted.model_dump(mode="json"))
    await api.ok(admin, "POST", "/v1/ledger/top-ups", json=_top_up(ines, "w2"), status=201)

    assert response.status_code == 400
    assert [(f["field"], f["code"]) for f in response.json()["fields"]] == [
        ("buyer_id", "not_a_buyer")
    ]
    assert await api.balance(ines, ines) == 2500


async def test_a_buyer_registered_a_moment_ago_is_credited_on_the_gateways_word(
    api: Api, lab: Actor, ines: Actor, admin: Actor
) -> None:
    """Licensing hears of a new account a moment after it exists; the gateway, which owns
    the accounts, says what it found when it forwards the top-up."""
    confirmed = await api.ok(
        admin,
        "POST",
        "/v1/ledger/top-ups",
        json=_top_up(lab, "w3", buyer_roles=["buyer"]),
        status=201,
    )
    creator = await api.call(
        admin, "POST", "/v1/ledger/top-ups", json=_top_up(ines, "w4", buyer_roles=["creator"])
    )
    missing = await api.call(
        admin,
        "POST",
        "/v1/ledger/top-ups",
        json=_top_up(Actor(str(uuid.uuid4()), frozenset(), None), "w5", buyer_roles=[]),
    )

    assert confirmed["postings"][1]["owner_id"] == lab.subject
    assert [f["code"] for f in creator.json()["fields"]] == ["not_a_buyer"]
    assert [f["code"] for f in missing.json()["fields"]] == ["unknown_account"]


async def test_only_the_gateway_vouches_for_an_account(api: Api, lab: Actor, admin: Actor) -> None:
    """A token from any other issuer (a service) cannot vouch for an account."""
    token = signer("delivery").sign(
        subject=admin.subject, roles=admin.roles, audience="licensing", name=admin.name
    )
    response = await api.http.post(
        "/v1/ledger/top-ups",
        json=_top_up(lab, "w6", buyer_roles=["buyer"]),
        headers={"authorization": f"Bearer {token}"},
    )

    assert response.status_code == 403
    assert response.json()["error"] == "Forbidden"
