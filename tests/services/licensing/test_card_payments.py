"""Card top-ups with Stripe behind the payment interface: a checkout asked of the
provider's API (served here from a recorded answer), and the provider's events signed
with the `stripe` library's own signing helper: a paid checkout credits once however
often it is sent; a bad signature or a replayed old event credits nothing; with no keys
the provider is off and says so."""

import json
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import stripe
from aiohttp import web
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.events import AccountRegistered, Topic
from services.licensing.card.service import CardPayments
from services.licensing.config import Settings
from services.licensing.models import LedgerTransaction
from tests.services.catalogue.helpers import Actor
from tests.services.licensing.helpers import Api, service_headers

WEBHOOK_SECRET = "whsec_test_" + "0" * 32
EVENTS = "/v1/payments/card/events"
CHECKOUTS = "/v1/payments/card/checkouts"


@pytest.fixture
async def stripe_api() -> AsyncIterator[tuple[str, list[dict[str, str]]]]:
    """The provider's API on loopback, answering a Checkout Session as Stripe records one,
    and keeping the form each request sent."""
    seen: list[dict[str, str]] = []

    async def create(request: web.Request) -> web.Response:
        form = {key: str(value) for key, value in (await request.post()).items()}
        seen.append(form)
        session = {
            "id": "cs_test_a1b2c3",
            "object": "checkout.session",
            "url": "https://checkout.stripe.com/c/pay/cs_test_a1b2c3",
            "mode": "payment",
            "status": "open",
            "payment_status": "unpaid",
            "amount_total": int(form["line_items[0][price_data][unit_amount]"]),
            "currency": form["line_items[0][price_data][currency]"],
            "client_reference_id": form["client_reference_id"],
        }
        return web.json_response(session)

    app = web.Application()
    app.router.add_post("/v1/checkout/sessions", create)
    runner = web.AppRunner(app)
    await runner.setup()
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listening.bind(("127.0.0.1", 0))
    await web.SockSite(runner, listening).start()
    try:
        yield f"http://127.0.0.1:{listening.getsockname()[1]}", seen
    finally:
        await runner.cleanup()


@pytest.fixture
def cards_on(app: FastAPI, stripe_api: tuple[str, list[dict[str, str]]]) -> Iterator[None]:
    """The app with a card provider configured, as production would have it."""
    configured = app.state.card_payments
    settings = Settings.model_validate(
        {
            "stripe_secret_key": "sk_test_assent",
            "stripe_webhook_secret": WEBHOOK_SECRET,
            "stripe_api_base": stripe_api[0],
        }
    )
    app.state.card_payments = CardPayments(settings, app.state.licensing.payments)
    yield
    app.state.card_payments = configured


def _paid_event(buyer: Actor, *, amount: int = 4_200, event_id: str | None = None) -> str:
    """A `checkout.session.completed` event as Stripe sends it."""
    return json.dumps(
        {
            "id": event_id or f"evt_{uuid.uuid4().hex}",
            "object": "event",
            "type": "checkout.session.completed",
            "api_version": "2025-09-30.clover",
            "created": int(time.time()),
            "data": {
                "object": {
                    "id": "cs_test_a1b2c3",
                    "object": "checkout.session",
                    "payment_status": "paid",
                    "status": "complete",
                    "amount_total": amount,
                    "currency": "eur",
                    "client_reference_id": str(buyer.id),
                    "metadata": {"buyer_id": str(buyer.id)},
                }
            },
        }
    )


def _signed(payload: str, *, at: int | None = None, secret: str = WEBHOOK_SECRET) -> str:
    timestamp = at if at is not None else int(time.time())
    header: str = stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp)
    return header


async def _send(api: Api, payload: str, signature: str) -> Any:
    return await api.http.post(
        EVENTS,
        json={"payload": payload, "signature": signature},
        headers=service_headers("gateway"),
    )


async def _register(api: Api, actor: Actor) -> None:
    registered = AccountRegistered(
        account_id=actor.id, name=actor.name or "", roles=sorted(actor.roles)
    )
    envelope = {
        "id": str(uuid.uuid4()),
        "topic": Topic.ACCOUNT_REGISTERED,
        "source": "gateway",
        "occurred_at": "2026-12-05T10:00:00Z",
        "payload": registered.model_dump(mode="json"),
    }
    answer = await api.http.post(
        "/internal/events", json=envelope, headers=service_headers("gateway")
    )
    assert answer.status_code == 200, answer.text


async def _top_ups(session: AsyncSession) -> int:
    statement = select(func.count()).where(LedgerTransaction.kind == "top_up")
    return int(await session.scalar(statement) or 0)


async def test_with_no_keys_card_payments_are_off_and_say_so(api: Api, lab: Actor) -> None:
    refused = await api.refused(
        lab, "POST", CHECKOUTS, json={"amount_minor": 1_000, "currency": "EUR"}
    )
    assert refused == (409, "CardPaymentsOff")


@pytest.mark.usefixtures("cards_on")
async def test_a_checkout_asks_the_provider_for_the_buyers_amount(
    api: Api, lab: Actor, stripe_api: tuple[str, list[dict[str, str]]]
) -> None:
    checkout = await api.ok(lab, "POST", CHECKOUTS, json={"amount_minor": 4_200, "currency": "EUR"})

    assert checkout["url"].startswith("https://checkout.stripe.com/")
    [form] = stripe_api[1]
    assert form["client_reference_id"] == str(lab.id)
    assert form["line_items[0][price_data][unit_amount]"] == "4200"
    assert form["line_items[0][price_data][currency]"] == "eur"


@pytest.mark.usefixtures("cards_on")
async def test_a_paid_checkout_credits_once_however_often_it_is_sent(
    api: Api, session: AsyncSession, lab: Actor, admin: Actor
) -> None:
    await _register(api, lab)
    payload = _paid_event(lab)

    first = await _send(api, payload, _signed(payload))
    again = await _send(api, payload, _signed(payload))

    assert first.status_code == again.status_code == 200, (first.text, again.text)
    assert first.json()["credited"]["id"] == again.json()["credited"]["id"]
    assert await _top_ups(session) == 1
    assert await api.balance(lab, lab) == 4_200
    check = await api.ok(admin, "GET", "/v1/ledger/check")
    problems = (
        "unbalanced_transactions",
        "mixed_currency_transactions",
        "balance_mismatches",
        "negative_buyer_balances",
    )
    assert not any(check[problem] for problem in problems), check


@pytest.mark.usefixtures("cards_on")
async def test_a_bad_signature_or_an_old_replay_credits_nothing(
    api: Api, session: AsyncSession, lab: Actor
) -> None:
    await _register(api, lab)
    payload = _paid_event(lab)
    altered = payload.replace("4200", "420000")
    stale = int(time.time()) - 600

    for body, signature in (
        (payload, _signed(payload, secret="whsec_someone_else_entirely")),
        (altered, _signed(payload)),
        (payload, _signed(payload, at=stale)),
        (payload, "t=1,v1=00"),
    ):
        refused = await _send(api, body, signature)
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"] == "CardEventRejected"
    assert await _top_ups(session) == 0
    # Only services forward events: a buyer cannot post one.
    signed = _signed(payload)
    assert (await api.refused(lab, "POST", EVENTS, json={"payload": payload, "signature": signed}))[
        0
    ] == 403
