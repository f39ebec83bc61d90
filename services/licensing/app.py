import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.delivery import DeliveryIssued
from services.contracts.events import (
    AccountRegistered,
    AccountRoleGranted,
    EventEnvelope,
    Topic,
)
from services.contracts.signing import CERTIFICATE_KEY_PURPOSE
from services.kit.app import create_service_app
from services.kit.keyring import Keyring, emit_rotation, keys_router
from services.kit.outbox import EventReceiver
from services.licensing.api import router
from services.licensing.card.service import CardPayments
from services.licensing.config import Settings
from services.licensing.invoice.service import InvoiceNumberer, Invoicing
from services.licensing.ledger.accounts import account_service
from services.licensing.ledger.known_accounts import KnownAccounts
from services.licensing.licence.sale_scope import SCOPE_TOPICS, sale_scope_service
from services.licensing.licence.service import LicenceService
from services.licensing.payout import Payouts
from services.licensing.wiring import LicensingServices


async def _account_registered(session: AsyncSession, envelope: EventEnvelope) -> None:
    await account_service.record_registration(
        session, AccountRegistered.model_validate(envelope.payload)
    )


async def _account_role_granted(session: AsyncSession, envelope: EventEnvelope) -> None:
    await account_service.record_role_grant(
        session, AccountRoleGranted.model_validate(envelope.payload)
    )


def _receiver(licences: LicenceService) -> EventReceiver:
    """Each event handled in order; a batch's sale scope locks all taken first."""

    async def delivery_issued(session: AsyncSession, envelope: EventEnvelope) -> None:
        await licences.refund_undelivered(session, DeliveryIssued.model_validate(envelope.payload))

    per_event = EventReceiver.per_event(
        {
            Topic.DELIVERY_ISSUED: delivery_issued,
            Topic.ACCOUNT_REGISTERED: _account_registered,
            Topic.ACCOUNT_ROLE_GRANTED: _account_role_granted,
            **dict.fromkeys(SCOPE_TOPICS, sale_scope_service.record),
        }
    )

    async def handle(session: AsyncSession, envelopes: Sequence[EventEnvelope]) -> None:
        await sale_scope_service.lock_works_of(session, envelopes)
        await per_event.handle(session, envelopes)

    return EventReceiver(per_event.topics, handle)


async def record_configured_key(app: FastAPI) -> None:
    """At start: log the first certificate key, or the rotation to a new configured seed."""
    keyring: Keyring = app.state.keyring
    async with app.state.sessionmaker() as session, session.begin():
        await keyring.record_configured(session)


def create_app(
    settings: Settings | None = None, *, known_accounts: KnownAccounts | None = None
) -> FastAPI:
    """The licensing service. `known_accounts` is its ledger accounts cache, on unless a
    test passes one turned off."""
    settings = settings or Settings()
    if not settings.signing_key.get_secret_value():
        # A licence certificate nobody can verify is worse than no service: refuse to start.
        raise ValueError(
            "ASSENT_LICENSING_SIGNING_KEY is not set: give the base64 Ed25519 seed that signs "
            "licence certificates (python -c 'from assent.protocol import generate_seed; "
            "print(generate_seed())' makes one)"
        )
    keyring = Keyring(
        settings.signing_key,
        purpose=CERTIFICATE_KEY_PURPOSE,
        service="licensing",
        on_rotated=emit_rotation,
    )
    invoicing = Invoicing.from_settings(settings)
    licensing = LicensingServices.build(known_accounts or KnownAccounts(), invoicing)
    app = create_service_app(
        "licensing",
        settings,
        routers=[router, keys_router()],
        event_handlers=_receiver(licensing.licences),
        on_startup=record_configured_key,
    )
    app.state.keyring = keyring
    app.state.licensing = licensing
    app.state.card_payments = CardPayments(settings, licensing.payments)
    payouts = Payouts.build(settings, licensing, lambda: app.state.sessionmaker)
    app.state.payouts = payouts
    numberer = InvoiceNumberer(
        lambda: app.state.sessionmaker, invoicing, poll_seconds=settings.invoice_poll_seconds
    )
    app.state.invoice_numberer = numberer
    service_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Inside the kit's lifespan, so the workers stop before the database goes.
        async with service_lifespan(app):
            tasks = [
                asyncio.create_task(payouts.runner.worker.run(), name="licensing-payout-runs"),
                asyncio.create_task(payouts.mailer.worker.run(), name="licensing-payout-mail"),
                asyncio.create_task(numberer.worker.run(), name="licensing-invoice-numbers"),
            ]
            try:
                yield
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    app.router.lifespan_context = lifespan
    return app
