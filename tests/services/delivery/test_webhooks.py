"""Webhooks to labs, sent to a real HTTP server and verified with the Standard Webhooks
reference library: each event arrives once, signed; failures are retried with backoff
and every attempt kept; unsafe URLs and other accounts' endpoints are refused."""

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from standardwebhooks import Webhook

from services.contracts.catalogue import Use, WorkVersionPublished, WorkWithdrawn
from services.contracts.events import Topic
from services.contracts.licensing import LicenceRevoked
from services.delivery.builder import DeliveryBuilder
from services.delivery.webhook.addresses import WebhookResolver
from services.delivery.webhook.models import WebhookEndpoint
from services.delivery.webhook.sender import SenderSettings, WebhookSender
from services.kit.db import utcnow
from tests.fixtures.webhook_receiver import WebhookReceiver, webhook_receiver
from tests.services.catalogue.helpers import Actor, Api
from tests.services.delivery.helpers import (
    DeliveryApi,
    licence_granted,
    licence_line,
    refunded,
)

ENDPOINTS = "/v1/webhooks/endpoints"


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with webhook_receiver() as running:
        yield running


@pytest.fixture
def loopback_allowed(app: FastAPI) -> Iterator[None]:
    """As an operator running a lab's receiver beside a local stack would configure it."""
    configured = app.state.webhook_resolver
    app.state.webhook_resolver = WebhookResolver(allow_private=True)
    yield
    app.state.webhook_resolver = configured


def _sender(app: FastAPI, *, max_attempts: int = 5) -> WebhookSender:
    return WebhookSender(
        lambda: app.state.sessionmaker,
        SenderSettings(
            master=app.state.settings.watermark_secret,
            allow_private=True,
            timeout_seconds=5.0,
            max_attempts=max_attempts,
            backoff_seconds=0.001,
            max_backoff_seconds=0.002,
            expiring_within=timedelta(days=7),
            poll_seconds=1.0,
        ),
    )


async def _send_all(sender: WebhookSender, *, passes: int = 5) -> None:
    async with sender.connected():
        for _ in range(passes):
            await sender.send_due()


async def _endpoint(delivery: DeliveryApi, lab: Actor, url: str, **fields: Any) -> tuple[str, str]:
    created = await delivery.ok(lab, "POST", ENDPOINTS, json={"url": url, **fields})
    return created["endpoint"]["id"], created["secret"]


def _verified(secret: str, receiver: WebhookReceiver, path: str) -> list[dict[str, Any]]:
    webhook = Webhook(secret)
    return [webhook.verify(request.body, request.headers) for request in receiver.to(path)]


async def _sold(
    delivery: DeliveryApi,
    builder: DeliveryBuilder,
    catalogue: Api,
    creator: Actor,
    lab: Actor,
    *,
    days: int = 365,
) -> tuple[Any, dict[str, Any]]:
    work = await catalogue.listed_work(creator, uuid.uuid4().bytes, Use.TRAINING)
    line = licence_line(work, ends_at=utcnow() + timedelta(days=days))
    granted = licence_granted(lab, [line])
    await delivery.grant(granted)
    await builder.build_pending()
    return granted, work


@pytest.mark.usefixtures("loopback_allowed")
async def test_every_event_reaches_the_lab_once_and_verifies(
    app: FastAPI,
    delivery: DeliveryApi,
    builder: DeliveryBuilder,
    catalogue: Api,
    ines: Actor,
    lab: Actor,
    admin: Actor,
    receiver: WebhookReceiver,
) -> None:
    _, secret = await _endpoint(delivery, lab, receiver.at("/hooks"))
    granted, work = await _sold(delivery, builder, catalogue, ines, lab)
    soon, _ = await _sold(delivery, builder, catalogue, ines, lab, days=3)
    work_id = uuid.UUID(work["id"])
    now = utcnow()
    published = WorkVersionPublished(
        work_id=work_id,
        version_id=uuid.uuid4(),
        previous_version_id=uuid.UUID(work["current_version"]["id"]),
        sha256="1" * 64,
        size=10,
        published_at=now,
    )
    await delivery.event(Topic.WORK_VERSION_PUBLISHED, published)
    await delivery.event(
        Topic.WORK_WITHDRAWN, WorkWithdrawn(work_id=work_id, withdrawn_by=ines.id, withdrawn_at=now)
    )
    await delivery.event(Topic.LICENCE_REFUNDED, refunded(granted))
    revoked = LicenceRevoked(
        licence_id=soon.licence_id,
        buyer_id=lab.id,
        revoked_by=admin.id,
        reason="shared outside the lab",
        revoked_at=now,
    )

    await _send_all(_sender(app))
    await delivery.event(Topic.LICENCE_REVOKED, revoked)
    await _send_all(_sender(app))

    events = _verified(secret, receiver, "/hooks")
    types = sorted(event["type"] for event in events)
    assert types == [
        "delivery.issued",
        "delivery.issued",
        "licence.expiring",
        "licence.refunded",
        "licence.revoked",
        "work.version_published",
        "work.withdrawn",
    ]
    by_type = {event["type"]: event["data"] for event in events}
    assert by_type["licence.refunded"]["licence_id"] == str(granted.licence_id)
    assert by_type["licence.expiring"]["licence_id"] == str(soon.licence_id)
    assert by_type["work.withdrawn"]["licence_ids"] == [str(granted.licence_id)]
    ids = [request.headers["webhook-id"] for request in receiver.received]
    assert len(set(ids)) == len(ids)


@pytest.mark.usefixtures("loopback_allowed")
async def test_a_failing_receiver_is_retried_with_backoff_and_every_attempt_is_kept(
    app: FastAPI,
    delivery: DeliveryApi,
    builder: DeliveryBuilder,
    catalogue: Api,
    ines: Actor,
    lab: Actor,
    receiver: WebhookReceiver,
) -> None:
    flaky, secret = await _endpoint(delivery, lab, receiver.at("/flaky"))
    receiver.answers = [500, 503]
    await _sold(delivery, builder, catalogue, ines, lab)

    await _send_all(_sender(app))

    [message] = await delivery.ok(lab, "GET", f"{ENDPOINTS}/{flaky}/messages")
    assert message["status"] == "delivered"
    assert [a["status_code"] for a in message["attempts"]] == [500, 503, 200]
    # The same message each time: one id, so the receiver keeps it once.
    assert {request.headers["webhook-id"] for request in receiver.to("/flaky")} == {message["id"]}
    assert len(_verified(secret, receiver, "/flaky")) == 3

    down, _ = await _endpoint(delivery, lab, receiver.at("/down"))
    assert (await delivery.call(lab, "DELETE", f"{ENDPOINTS}/{flaky}")).status_code == 204
    receiver.answers = [500] * 10
    await _sold(delivery, builder, catalogue, ines, lab)
    await _send_all(_sender(app, max_attempts=2))
    [given_up] = await delivery.ok(lab, "GET", f"{ENDPOINTS}/{down}/messages")
    assert (given_up["status"], len(given_up["attempts"])) == ("failed", 2)
    assert len(receiver.to("/flaky")) == 3


async def test_urls_webhooks_may_not_reach_are_refused_and_nothing_is_made(
    app: FastAPI, delivery: DeliveryApi, lab: Actor, session: AsyncSession
) -> None:
    for url, code in (
        ("ftp://labs.example/hook", "scheme"),
        ("http://127.0.0.1:8080/hook", "private_address"),
        ("https://10.1.2.3/hook", "private_address"),
        ("http://[::1]/hook", "private_address"),
        ("http://169.254.169.254/latest/meta-data", "private_address"),
        ("https://user:pw@labs.example/hook", "credentials"),
    ):
        refused = await delivery.call(lab, "POST", ENDPOINTS, json={"url": url})
        assert refused.status_code == 400, (url, refused.text)
        assert refused.json()["fields"][0]["code"] == code, (url, refused.text)
    assert (await session.scalars(select(WebhookEndpoint))).all() == []


@pytest.mark.usefixtures("loopback_allowed")
async def test_an_endpoint_is_its_accounts_alone_and_its_secret_is_kept_nowhere(
    app: FastAPI,
    delivery: DeliveryApi,
    builder: DeliveryBuilder,
    catalogue: Api,
    ines: Actor,
    lab: Actor,
    rival: Actor,
    receiver: WebhookReceiver,
    session: AsyncSession,
) -> None:
    endpoint_id, secret = await _endpoint(delivery, lab, receiver.at("/mine"))
    assert await delivery.ok(rival, "GET", ENDPOINTS) == []
    for method, path in (
        ("DELETE", f"{ENDPOINTS}/{endpoint_id}"),
        ("GET", f"{ENDPOINTS}/{endpoint_id}/messages"),
        ("POST", f"{ENDPOINTS}/{endpoint_id}/rotate"),
    ):
        assert (await delivery.refused(rival, method, path))[0] == 404
    [row] = (await session.scalars(select(WebhookEndpoint))).all()
    assert secret.removeprefix("whsec_") not in repr(row.__dict__)

    rotated = await delivery.ok(lab, "POST", f"{ENDPOINTS}/{endpoint_id}/rotate")
    await _sold(delivery, builder, catalogue, ines, lab)
    await _send_all(_sender(app))
    [request] = receiver.to("/mine")
    assert Webhook(rotated["secret"]).verify(request.body, request.headers)["type"] == (
        "delivery.issued"
    )
    with pytest.raises(Exception, match="signature"):
        Webhook(secret).verify(request.body, request.headers)
