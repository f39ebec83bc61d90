"""Licensing's REST calls as the gateway makes them, and data builders."""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from assent.protocol import generate_seed
from services.contracts.catalogue import ConsentKind, MediaType, Terms, Use
from services.contracts.events import AccountRegistered, Topic
from services.contracts.licensing import (
    BundleSource,
    QuoteLine,
    ShareLine,
    TopUpIn,
    TransactionRead,
)
from services.contracts.roles import Role
from services.kit.db import utcnow
from services.kit.internal_token import Caller
from services.licensing.config import Settings
from services.licensing.ledger.accounts import account_service
from services.licensing.ledger.known_accounts import KnownAccounts
from services.licensing.ledger.royalties import platform_fee
from services.licensing.models import Bundle, Quote
from services.licensing.wiring import LicensingServices
from tests.fixtures.internal_keys import key_settings, signer
from tests.fixtures.rest import RestApi
from tests.services.catalogue.helpers import Actor, create_work, list_work

CATALOGUE_URL = "http://catalogue.internal"
SIGNING_KEY = generate_seed()
SIGNER = signer("gateway")
ADMIN = Caller(subject=str(uuid.uuid4()), roles=frozenset({Role.ADMIN}), issuer="gateway")
FEE_BPS = 1_500

# What tests call outside an app runs on services of its own, with the ledger accounts
# cache off, so it never trusts what an app's cache remembers of another database.
SERVICES = LicensingServices.build(KnownAccounts(enabled=False))


def licensing_settings(database_url: str, schema: str | None, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "database_schema": schema,
        "database_pool_size": 2,
        "signing_key": SIGNING_KEY,
        **key_settings("licensing"),
        "ASSENT_CATALOGUE_URL": CATALOGUE_URL,
        "ASSENT_DELIVERY_URL": "http://127.0.0.1:9",
        "ASSENT_AUDIT_URL": "http://127.0.0.1:9",
    }
    values.update(overrides)
    return Settings.model_validate(values)


def headers(actor: Actor) -> dict[str, str]:
    token = SIGNER.sign(
        subject=actor.subject, roles=actor.roles, audience="licensing", name=actor.name
    )
    return {"authorization": f"Bearer {token}"}


def service_headers(source: str = "delivery") -> dict[str, str]:
    """What the outbox relay of `source` signs when it delivers an event."""
    token = signer(source).sign_as_service(audience="licensing")
    return {"authorization": f"Bearer {token}"}


class Api(RestApi):
    """Licensing's endpoints, as the gateway calls them."""

    def headers(self, actor: Actor) -> dict[str, str]:
        return headers(actor)

    async def top_up(
        self, admin: Actor, buyer: Actor, amount_minor: int, currency: str = "EUR"
    ) -> dict[str, Any]:
        body = {
            "buyer_id": buyer.subject,
            "amount_minor": amount_minor,
            "currency": currency,
            "reference": f"bank transfer {uuid.uuid4().hex[:12]}",
            # What the gateway, which owns the accounts, found when it forwarded the call.
            "buyer_roles": sorted(buyer.roles),
        }
        result: dict[str, Any] = await self.ok(
            admin, "POST", "/v1/ledger/top-ups", json=body, status=201
        )
        return result

    async def bundle(
        self,
        buyer: Actor,
        work_ids: Sequence[uuid.UUID],
        *uses: Use,
        currency: str = "EUR",
    ) -> dict[str, Any]:
        body = {
            "name": "Paintings for pre-training",
            "uses": list(uses) or [Use.TRAINING],
            "currency": currency,
            "work_ids": [str(work_id) for work_id in work_ids],
        }
        result: dict[str, Any] = await self.ok(buyer, "POST", "/v1/bundles", json=body, status=201)
        return result

    async def quote(self, buyer: Actor, bundle_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.ok(
            buyer, "POST", "/v1/quotes", json={"bundle_id": bundle_id}, status=201
        )
        return result

    async def quote_works(
        self, buyer: Actor, work_ids: Sequence[uuid.UUID], *uses: Use, currency: str = "EUR"
    ) -> dict[str, Any]:
        bundle = await self.bundle(buyer, work_ids, *uses, currency=currency)
        return await self.quote(buyer, bundle["id"])

    async def buy(self, buyer: Actor, quote_id: str, key: str = "k-1") -> httpx.Response:
        return await self.call(
            buyer,
            "POST",
            "/v1/purchases",
            json={"quote_id": quote_id, "idempotency_key": key},
        )

    async def bought(self, buyer: Actor, quote_id: str, key: str = "k-1") -> dict[str, Any]:
        response = await self.buy(buyer, quote_id, key)
        assert response.status_code == 200, response.text
        licence: dict[str, Any] = response.json()["licence"]
        return licence

    async def balance(self, actor: Actor, owner: Actor, kind: str = "buyer_balance") -> int:
        balances = await self.ok(actor, "GET", "/v1/balances", params={"owner_id": owner.subject})
        return sum(b["balance_minor"] for b in balances if b["account_kind"] == kind)


async def listed_work(
    catalogue_session: AsyncSession,
    owner: Actor,
    *,
    price_minor: int = 1000,
    currency: str = "EUR",
    uses: Sequence[Use] = (Use.TRAINING,),
    title: str = "A work",
    co_creators: Sequence[tuple[Actor, int]] = (),
) -> uuid.UUID:
    """A listed work in the catalogue; co-creators with their basis points, the owner the rest."""
    work = await create_work(
        catalogue_session,
        owner=owner,
        title=title,
        co_creators=[creator for creator, _ in co_creators],
    )
    points = [10_000 - sum(p for _, p in co_creators), *(p for _, p in co_creators)]
    for share, basis_points in zip(work.shares, points, strict=True):
        share.basis_points = basis_points
    await list_work(
        catalogue_session, work, owner=owner, uses=uses, price_minor=price_minor, currency=currency
    )
    return work.id


def quote_line(
    price_minor: int,
    shares: Sequence[tuple[uuid.UUID, int]],
    *,
    fee_bps: int = FEE_BPS,
    duration_days: int = 30,
    title: str = "A work",
    work_id: uuid.UUID | None = None,
    exclusivity_days: int = 0,
    territory: Sequence[str] = ("WORLD",),
    uses: Sequence[Use] = (Use.TRAINING,),
    max_models: int | None = None,
) -> QuoteLine:
    """A line as a quote would have priced it, for tests about what happens after a quote."""
    return QuoteLine(
        work_id=work_id or uuid.uuid4(),
        version_id=uuid.uuid4(),
        title=title,
        media_type=MediaType.IMAGE,
        file_name="work.png",
        size=100,
        sha256="0" * 64,
        offer_id=uuid.uuid4(),
        terms_id="1" * 64,
        terms=Terms(
            uses=list(uses),
            commercial_use=True,
            attribution_required=True,
            duration_days=duration_days,
            exclusivity_days=exclusivity_days,
            territory=list(territory),
            max_models=max_models,
        ),
        price_minor=price_minor,
        platform_fee_minor=platform_fee(price_minor, fee_bps),
        shares=[
            ShareLine(creator_id=creator_id, creator_name=f"Creator {creator_id}", basis_points=bps)
            for creator_id, bps in shares
        ],
    )


async def make_quote(
    session: AsyncSession,
    buyer_id: uuid.UUID,
    lines: Sequence[QuoteLine],
    *,
    currency: str = "EUR",
    ttl: timedelta = timedelta(minutes=15),
    uses: Sequence[Use] = (Use.TRAINING,),
) -> uuid.UUID:
    """A bundle and its quote straight in the database, as `POST /v1/quotes` stores them."""
    now = utcnow()
    bundle = Bundle(
        id=uuid.uuid4(),
        buyer_id=buyer_id,
        name="Bundle",
        uses=list(uses),
        currency=currency,
        source=BundleSource.WORKS,
        search=None,
        work_ids=[str(line.work_id) for line in lines],
        created_at=now,
    )
    total = sum(line.price_minor for line in lines)
    quote = Quote(
        id=uuid.uuid4(),
        bundle_id=bundle.id,
        buyer_id=buyer_id,
        currency=currency,
        uses=list(uses),
        lines=[line.model_dump(mode="json") for line in lines],
        excluded=[],
        subtotal_minor=total,
        platform_fee_minor=sum(line.platform_fee_minor for line in lines),
        total_minor=total,
        platform_fee_bps=FEE_BPS,
        created_at=now,
        expires_at=now + ttl,
    )
    session.add(bundle)
    await session.flush()
    session.add(quote)
    await session.flush()
    return quote.id


async def register_buyer(session: AsyncSession, buyer_id: uuid.UUID) -> None:
    """What `account.registered` tells licensing of a buyer's account."""
    await account_service.record_registration(
        session, AccountRegistered(account_id=buyer_id, name="A lab", roles=[Role.BUYER])
    )


async def top_up(
    session: AsyncSession, buyer_id: uuid.UUID, amount_minor: int, currency: str = "EUR"
) -> TransactionRead:
    """Credit a buyer's balance, registering the buyer with licensing first."""
    await register_buyer(session, buyer_id)
    return await SERVICES.payments.top_up(
        session,
        ADMIN,
        TopUpIn(
            buyer_id=buyer_id,
            amount_minor=amount_minor,
            currency=currency,
            reference=f"transfer {uuid.uuid4().hex[:12]}",
        ),
    )


def catalogue_event(
    topic: Topic, work_id: uuid.UUID, uses: list[Use] | None = None
) -> dict[str, Any]:
    """An event as the catalogue's outbox sends it (`ConsentRecorded`, `WorkWithdrawn`)."""
    now = datetime.now(UTC).isoformat()
    if topic == Topic.WORK_WITHDRAWN:
        payload: dict[str, Any] = {
            "work_id": str(work_id),
            "withdrawn_by": str(uuid.uuid4()),
            "withdrawn_at": now,
        }
    else:
        kind = {
            Topic.CONSENT_GIVEN: ConsentKind.GIVEN,
            Topic.CONSENT_REVISED: ConsentKind.REVISED,
            Topic.CONSENT_WITHDRAWN: ConsentKind.WITHDRAWN,
        }[topic]
        payload = {
            "consent_id": str(uuid.uuid4()),
            "work_id": str(work_id),
            "kind": kind,
            "uses": uses or [],
            "statement_version": "v1",
            "statement_sha256": "0" * 64,
            "given_by": str(uuid.uuid4()),
            "given_at": now,
        }
    return {
        "id": str(uuid.uuid4()),
        "topic": topic,
        "source": "catalogue",
        "occurred_at": now,
        "payload": payload,
    }
