"""Delivery's REST calls as the gateway and licensing make them, and licence builders."""

import hashlib
import json
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from assent.protocol import verify_envelope
from services.contracts.catalogue import Use
from services.contracts.delivery import IN_TOTO_PAYLOAD_TYPE
from services.contracts.events import EventEnvelope, Topic
from services.contracts.licensing import (
    LicenceGranted,
    LicenceLineRead,
    LicenceLineStatus,
    LicenceRefunded,
)
from services.contracts.roles import Role
from services.contracts.signing import Envelope, PublicKeyRead
from services.kit.db import utcnow
from services.kit.outbox import OutboxDelivery
from tests.fixtures.rest import RestApi
from tests.services.catalogue.helpers import SIGNER, Actor

LICENSING = Actor(subject="service:licensing", roles=frozenset({Role.SERVICE}), name=None)


def headers(actor: Actor) -> dict[str, str]:
    token = SIGNER.sign(
        subject=actor.subject, roles=actor.roles, audience="delivery", name=actor.name
    )
    return {"authorization": f"Bearer {token}"}


def licence_line(
    work: dict[str, Any], *, ends_at: datetime | None = None, attribution: str = "Ines Creator"
) -> LicenceLineRead:
    """A line as licensing sells it, from the catalogue's WorkRead of a listed work."""
    version, offer = work["current_version"], work["offer"]
    now = utcnow()
    return LicenceLineRead(
        work_id=work["id"],
        version_id=version["id"],
        title=work["title"],
        media_type=work["media_type"],
        file_name=version["file_name"],
        size=version["size"],
        sha256=version["sha256"],
        attribution=attribution,
        terms_id=offer["terms_id"],
        terms=offer["terms"],
        price_minor=offer["price_minor"],
        starts_at=now,
        ends_at=ends_at or now + timedelta(days=365),
        status=LicenceLineStatus.ACTIVE,
        excluded_reason=None,
    )


def licence_granted(
    buyer: Actor,
    lines: Sequence[LicenceLineRead],
    *,
    uses: Sequence[Use] = (Use.TRAINING,),
    licence_id: uuid.UUID | None = None,
) -> LicenceGranted:
    return LicenceGranted(
        licence_id=licence_id or uuid.uuid4(),
        buyer_id=buyer.id,
        buyer_name=buyer.name or "Unnamed",
        bundle_id=uuid.uuid4(),
        quote_id=uuid.uuid4(),
        uses=list(uses),
        currency="EUR",
        total_minor=sum(line.price_minor for line in lines),
        granted_at=utcnow(),
        lines=list(lines),
    )


def envelope_of(topic: Topic, payload: Any, *, event_id: uuid.UUID | None = None) -> dict[str, Any]:
    event = EventEnvelope(
        id=event_id or uuid.uuid4(),
        topic=topic,
        source="licensing",
        occurred_at=utcnow(),
        payload=payload.model_dump(mode="json"),
    )
    loaded: dict[str, Any] = json.loads(event.model_dump_json())
    return loaded


def refunded(granted: LicenceGranted) -> LicenceRefunded:
    return LicenceRefunded(
        licence_id=granted.licence_id,
        buyer_id=granted.buyer_id,
        refunded_by=uuid.uuid4(),
        reason="invoice disputed",
        refunded_at=utcnow(),
        amount_minor=granted.total_minor,
        currency=granted.currency,
    )


class DeliveryApi(RestApi):
    """Delivery's endpoints, as the gateway and licensing call them."""

    def headers(self, actor: Actor) -> dict[str, str]:
        return headers(actor)

    async def event(self, topic: Topic, payload: Any, *, event_id: uuid.UUID | None = None) -> Any:
        """Deliver an event as licensing's outbox relay does."""
        return await self.ok(
            LICENSING,
            "POST",
            "/internal/events",
            json=envelope_of(topic, payload, event_id=event_id),
        )

    async def grant(self, granted: LicenceGranted) -> None:
        receipt = await self.event(Topic.LICENCE_GRANTED, granted)
        assert receipt["duplicate"] is False

    async def delivery_of(self, actor: Actor, licence_id: uuid.UUID) -> dict[str, Any]:
        found = await self.ok(
            actor, "GET", "/v1/deliveries", params={"licence_id": str(licence_id)}
        )
        assert len(found) == 1, found
        delivery: dict[str, Any] = found[0]
        return delivery

    async def keys(self, actor: Actor) -> list[PublicKeyRead]:
        return [
            PublicKeyRead.model_validate(key) for key in await self.ok(actor, "GET", "/v1/keys")
        ]

    async def envelope(self, actor: Actor, delivery_id: str) -> Envelope:
        read = await self.ok(actor, "GET", f"/v1/deliveries/{delivery_id}/manifest")
        return Envelope.model_validate(read["envelope"])

    async def statement(self, actor: Actor, delivery_id: str) -> dict[str, Any]:
        """The manifest's statement, once its signature verifies with the published keys."""
        envelope = await self.envelope(actor, delivery_id)
        payload, _ = verify_envelope(
            envelope, await self.keys(actor), payload_type=IN_TOTO_PAYLOAD_TYPE
        )
        statement: dict[str, Any] = json.loads(payload)
        return statement

    async def files(self, actor: Actor, delivery_id: str, **params: Any) -> dict[str, Any]:
        page: dict[str, Any] = await self.ok(
            actor, "GET", f"/v1/deliveries/{delivery_id}/files", params=params
        )
        return page

    async def entitled_link(
        self, actor: Actor, delivery_id: str, fingerprint: str
    ) -> dict[str, Any]:
        """A file's download link, which the service hands out after checking the
        entitlement (the licence in force, the caller its buyer)."""
        link: dict[str, Any] = await self.ok(
            actor, "POST", f"/v1/deliveries/{delivery_id}/files/{fingerprint}/link"
        )
        return link

    async def trace(self, actor: Actor, text: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.ok(actor, "POST", "/v1/trace", json={"manifest": text})
        return result


def commitment(licence_id: str, fingerprints: Sequence[str]) -> str:
    """The watermark commitment as an auditor recomputes it from a manifest."""
    return hashlib.sha256("\n".join([licence_id, *fingerprints]).encode()).hexdigest()


async def outbox_payloads(session: AsyncSession, topic: Topic) -> list[dict[str, Any]]:
    """Each event of `topic` once (the outbox holds a row per receiver)."""
    rows = await session.execute(
        select(OutboxDelivery.event_id, OutboxDelivery.payload)
        .where(OutboxDelivery.topic == topic)
        .order_by(OutboxDelivery.id)
    )
    return list({event_id: payload for event_id, payload in rows}.values())
