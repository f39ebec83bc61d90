"""Actors, the catalogue's REST calls as a client makes them, and data builders."""

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.access import record_acting_creator
from services.catalogue.consent.service import consent_service
from services.catalogue.models import Share, Work, WorkVersion
from services.catalogue.offer.service import offer_service
from services.catalogue.statements.published import CURRENT
from services.contracts.catalogue import (
    ConsentIn,
    ConsentWithdrawIn,
    MediaType,
    OfferIn,
    ReviewStatus,
    RightsAttestation,
    StatementScope,
    Terms,
    UploadMethod,
    Use,
    VersionStatus,
    WorkStatus,
)
from services.contracts.roles import Role
from services.kit.db import utcnow
from services.kit.internal_token import Caller
from services.kit.outbox import OutboxDelivery
from tests.fixtures.internal_keys import signer
from tests.fixtures.rest import RestApi

SIGNER = signer("gateway")
OPT_IN = CURRENT[StatementScope.OPT_IN]
"""The statement a creator agrees to now when consenting."""
ATTESTED = RightsAttestation(owns_rights=True, depicts_identifiable_people=False)
WITHDRAWAL = ConsentWithdrawIn(
    statement_id=CURRENT[StatementScope.WITHDRAWAL].id,
    statement_version=CURRENT[StatementScope.WITHDRAWAL].version,
)


def consent_in(*uses: Use) -> ConsentIn:
    """A consent to `uses` in the platform's current words, the rights attested."""
    return ConsentIn(
        uses=list(uses) or [Use.TRAINING],
        statement_id=OPT_IN.id,
        statement_version=OPT_IN.version,
        attestation=ATTESTED,
    )


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Actor:
    subject: str
    roles: frozenset[Role]
    name: str | None

    @property
    def id(self) -> uuid.UUID:
        return uuid.UUID(self.subject)

    @property
    def headers(self) -> dict[str, str]:
        token = SIGNER.sign(
            subject=self.subject, roles=self.roles, audience="catalogue", name=self.name
        )
        return {"authorization": f"Bearer {token}"}

    @property
    def caller(self) -> Caller:
        return Caller(subject=self.subject, roles=self.roles, issuer="gateway", name=self.name)


def work_payload(data: bytes, **overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "title": "Evening over the estuary",
        "description": "An oil painting of the estuary at dusk",
        "media_type": "image",
        "tags": ["painting", "estuary"],
        "language": "en",
        "file_name": "estuary.png",
        "size": len(data),
        "sha256": sha256(data),
    }
    payload.update(overrides)
    return payload


def consent_payload(*uses: Use) -> dict[str, Any]:
    return {
        "uses": list(uses) or [Use.TRAINING, Use.FINE_TUNING],
        "statement_id": OPT_IN.id,
        "statement_version": OPT_IN.version,
        "attestation": {"owns_rights": True, "depicts_identifiable_people": False},
    }


def terms_payload(*uses: Use, **overrides: Any) -> dict[str, Any]:
    terms: dict[str, Any] = {
        "uses": list(uses) or [Use.TRAINING],
        "commercial_use": True,
        "attribution_required": True,
        "territory": ["WORLD"],
        "duration_days": 365,
    }
    terms.update(overrides)
    return terms


def offer_payload(
    *uses: Use, price_minor: int = 2500, currency: str = "EUR", **terms: Any
) -> dict[str, Any]:
    return {
        "price_minor": price_minor,
        "currency": currency,
        "terms": terms_payload(*uses, **terms),
    }


class Api(RestApi):
    """The catalogue's endpoints, as the gateway calls them."""

    def headers(self, actor: Actor) -> dict[str, str]:
        return actor.headers

    async def create_work(self, actor: Actor, data: bytes, **overrides: Any) -> dict[str, Any]:
        created: dict[str, Any] = await self.ok(
            actor, "POST", "/v1/works", json=work_payload(data, **overrides), status=201
        )
        return created

    async def complete(self, actor: Actor, work_id: str) -> dict[str, Any]:
        completed: dict[str, Any] = await self.ok(
            actor, "POST", f"/v1/works/{work_id}/upload/complete"
        )
        return completed

    async def work(self, actor: Actor, work_id: str) -> dict[str, Any]:
        work: dict[str, Any] = await self.ok(actor, "GET", f"/v1/works/{work_id}")
        return work

    async def search(self, actor: Actor, **params: Any) -> dict[str, Any]:
        page: dict[str, Any] = await self.ok(actor, "GET", "/v1/works/search", params=params)
        return page

    async def upload_parts(
        self, actor: Actor, work_id: str, data: bytes, part_size: int, numbers: Sequence[int]
    ) -> None:
        """Upload parts as a client does: presign each with its sha256, PUT its bytes."""
        chunks = {n: data[(n - 1) * part_size : n * part_size] for n in numbers}
        presigned = await self.ok(
            actor,
            "POST",
            f"/v1/works/{work_id}/upload/parts",
            json={"parts": [{"part_number": n, "sha256": sha256(c)} for n, c in chunks.items()]},
        )
        async with httpx.AsyncClient() as client:
            for part in presigned:
                response = await client.put(
                    part["url"], headers=part["headers"], content=chunks[part["part_number"]]
                )
                assert response.status_code == 200, response.text

    async def listed_work(
        self, actor: Actor, data: bytes, *uses: Use, **overrides: Any
    ) -> dict[str, Any]:
        """The whole creator flow: create, upload, complete, consent, offer."""
        created = await self.create_work(actor, data, **overrides)
        await put_single(created["upload"], data)
        work_id = created["work"]["id"]
        assert (await self.complete(actor, work_id))["completed"]
        await self.ok(
            actor, "POST", f"/v1/works/{work_id}/consents", json=consent_payload(*uses), status=201
        )
        await self.ok(actor, "PUT", f"/v1/works/{work_id}/offer", json=offer_payload(*uses))
        return await self.work(actor, work_id)


async def put_single(target: dict[str, Any], data: bytes) -> None:
    put = target["put"]
    async with httpx.AsyncClient() as client:
        response = await client.put(put["url"], headers=put["headers"], content=data)
    assert response.status_code == 200, response.text


async def create_work(
    session: AsyncSession,
    *,
    owner: Actor,
    title: str = "A work",
    description: str = "",
    tags: Sequence[str] = (),
    media_type: MediaType = MediaType.IMAGE,
    language: str = "en",
    created_at: datetime | None = None,
    co_creators: Sequence[Actor] = (),
) -> Work:
    """A work whose file is complete, straight in the database: no upload, not listed."""
    members = [owner, *co_creators]
    for member in members:
        await record_acting_creator(session, member.caller)
    work = Work(
        id=uuid.uuid4(),
        owner_id=owner.id,
        title=title,
        description=description,
        media_type=media_type,
        tags=list(tags),
        language=language,
        status=WorkStatus.READY,
        review_status=ReviewStatus.CLEAR,
        created_at=created_at or utcnow(),
        listed=False,
        offer_uses=0,
        shares=[
            Share(creator_id=member.id, position=position, basis_points=10_000 // len(members))
            for position, member in enumerate(members)
        ],
    )
    session.add(work)
    await session.flush()
    version = WorkVersion(
        id=uuid.uuid4(),
        work_id=work.id,
        number=1,
        file_name="work.bin",
        size=100,
        sha256=sha256(work.id.bytes),
        object_key=f"works/{work.id}/versions/1",
        upload_method=UploadMethod.SINGLE,
        status=VersionStatus.COMPLETE,
        created_at=utcnow(),
        completed_at=utcnow(),
    )
    session.add(version)
    await session.flush()
    work.current_version_id = version.id
    await session.flush()
    return work


async def list_work(
    session: AsyncSession,
    work: Work,
    *,
    owner: Actor,
    uses: Sequence[Use] = (Use.TRAINING,),
    price_minor: int = 1000,
    currency: str = "EUR",
) -> None:
    """Consent to `uses` and offer them, through the service's own rules."""
    await consent_service.give_consent(
        session,
        owner.caller,
        work.id,
        consent_in(*uses),
    )
    await offer_service.set_offer(
        session,
        owner.caller,
        work.id,
        OfferIn(
            price_minor=price_minor,
            currency=currency,
            terms=Terms(
                uses=list(uses), commercial_use=True, attribution_required=False, duration_days=30
            ),
        ),
    )


async def count(session: AsyncSession, model: type[Any], **where: Any) -> int:
    statement = select(func.count()).select_from(model).filter_by(**where)
    return int(await session.scalar(statement) or 0)


async def outbox_topics(session: AsyncSession) -> list[str]:
    """Each emitted event's topic once, in order, whatever the number of its receivers."""
    statement = select(OutboxDelivery.event_id, OutboxDelivery.topic).order_by(OutboxDelivery.id)
    events = dict((await session.execute(statement)).tuples().all())
    return list(events.values())


async def uploaded_work(api: Api, actor: Actor, data: bytes, **overrides: object) -> dict[str, Any]:
    """A work created with `data` as its file, uploaded and completed: the work read."""
    created = await api.create_work(actor, data, **overrides)
    await put_single(created["upload"], data)
    completed = await api.complete(actor, created["work"]["id"])
    assert completed["completed"], completed
    work: dict[str, Any] = completed["work"]
    return work
