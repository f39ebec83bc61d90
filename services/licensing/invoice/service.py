"""Labs' billing details and their invoices: one per purchase, made in the purchase's own
transaction with the VAT the purchase was charged, or one per lab and month once the
month is over; numbered a moment later."""

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.contracts.licensing import (
    BillingDetailsIn,
    BillingDetailsRead,
    InvoiceLineRead,
    InvoiceRead,
    LicenceRead,
    QuoteLine,
)
from services.contracts.roles import Role
from services.kit.db import utcnow
from services.kit.errors import Forbidden, NotFound
from services.kit.internal_token import Caller, require_role
from services.kit.worker import PollingWorker
from services.licensing.config import Settings
from services.licensing.invoice.models import (
    BillingProfile,
    Invoice,
    InvoiceCounter,
    InvoiceItem,
)
from services.licensing.invoice.vat import VatRule, checked_vat_id, rule_for
from services.licensing.rules import require_account

log = structlog.get_logger()

NUMBERING_BATCH = 500
CLOSING_BATCH = 2_000


@dataclass(frozen=True, slots=True)
class Seller:
    name: str
    address: str
    country: str
    vat_id: str


def invoice_read(invoice: Invoice) -> InvoiceRead:
    return InvoiceRead(
        id=invoice.id,
        number=invoice.number,
        buyer_id=invoice.buyer_id,
        licence_id=invoice.licence_id,
        period=invoice.period,
        issued_at=invoice.issued_at,
        currency=invoice.currency,
        net_minor=invoice.net_minor,
        vat_minor=invoice.vat_minor,
        gross_minor=invoice.net_minor + invoice.vat_minor,
        vat_rate_bps=invoice.vat_rate_bps,
        vat_treatment=invoice.vat_treatment,
        vat_note=VatRule(invoice.vat_treatment, invoice.vat_rate_bps).note(),
        buyer_name=invoice.buyer_name,
        buyer_address=invoice.buyer_address,
        buyer_country=invoice.buyer_country,
        buyer_vat_id=invoice.buyer_vat_id,
        seller_name=invoice.seller_name,
        seller_address=invoice.seller_address,
        seller_country=invoice.seller_country,
        seller_vat_id=invoice.seller_vat_id,
        lines=[InvoiceLineRead.model_validate(line) for line in invoice.lines],
    )


@dataclass(frozen=True, slots=True)
class Billing:
    """What a purchase needs of the buyer's billing: its VAT rule, and who to invoice."""

    rule: VatRule
    profile: BillingProfile | None


class Invoicing:
    def __init__(self, seller: Seller, rate_bps: int, *, monthly: bool = False) -> None:
        self._seller = seller
        self._rate_bps = rate_bps
        self._monthly = monthly

    @classmethod
    def from_settings(cls, settings: Settings) -> "Invoicing":
        seller = Seller(
            settings.seller_name,
            settings.seller_address,
            settings.seller_country,
            settings.seller_vat_id,
        )
        return cls(seller, settings.vat_rate_bps, monthly=settings.invoice_period == "month")

    def _rule(self, profile: BillingProfile | None) -> VatRule:
        return rule_for(
            profile.country if profile else None,
            profile.vat_id if profile else None,
            platform_country=self._seller.country,
            rate_bps=self._rate_bps,
        )

    async def billing(self, session: AsyncSession, buyer_id: uuid.UUID) -> Billing:
        profile = await session.get(BillingProfile, buyer_id)
        return Billing(self._rule(profile), profile)

    def invoice_purchase(
        self,
        session: AsyncSession,
        licence: LicenceRead,
        sold: Sequence[QuoteLine],
        vat: Mapping[uuid.UUID, int],
        billing: Billing,
    ) -> None:
        """The purchase as invoiced, in its transaction: it exists exactly when the sale
        does; with its own invoice, unless invoices are monthly."""
        profile = billing.profile
        item = InvoiceItem(
            licence_id=licence.id,
            buyer_id=licence.buyer_id,
            issued_at=licence.granted_at,
            currency=licence.currency,
            net_minor=sum(line.price_minor for line in sold),
            vat_minor=sum(vat.values()),
            vat_rate_bps=billing.rule.rate_bps,
            vat_treatment=billing.rule.treatment,
            buyer_name=profile.organisation if profile else licence.buyer_name,
            buyer_address=profile.address if profile else None,
            buyer_country=profile.country if profile else None,
            buyer_vat_id=profile.vat_id if profile else None,
            lines=[
                {
                    "description": f"Licence to “{line.title}” ({', '.join(line.terms.uses)}, "
                    f"{line.terms.duration_days} days)",
                    "work_id": str(line.work_id),
                    "net_minor": line.price_minor,
                    "vat_minor": vat.get(line.work_id, 0),
                }
                for line in sold
            ],
        )
        if not self._monthly:
            invoice = self._invoice_of([item], licence_id=licence.id, period=None)
            session.add(invoice)
            item.invoice_id = invoice.id
        session.add(item)

    def _invoice_of(
        self, items: Sequence[InvoiceItem], *, licence_id: uuid.UUID | None, period: date | None
    ) -> Invoice:
        """One invoice of items that share a buyer, currency and VAT treatment; the buyer
        as the newest item names them."""
        newest = max(items, key=lambda item: item.issued_at)
        return Invoice(
            id=uuid.uuid4(),
            buyer_id=newest.buyer_id,
            licence_id=licence_id,
            period=period,
            issued_at=newest.issued_at if period is None else utcnow(),
            currency=newest.currency,
            net_minor=sum(item.net_minor for item in items),
            vat_minor=sum(item.vat_minor for item in items),
            vat_rate_bps=newest.vat_rate_bps,
            vat_treatment=newest.vat_treatment,
            buyer_name=newest.buyer_name,
            buyer_address=newest.buyer_address,
            buyer_country=newest.buyer_country,
            buyer_vat_id=newest.buyer_vat_id,
            seller_name=self._seller.name,
            seller_address=self._seller.address,
            seller_country=self._seller.country,
            seller_vat_id=self._seller.vat_id,
            lines=[
                line for item in sorted(items, key=lambda i: i.issued_at) for line in item.lines
            ],
        )

    async def close_months(self, session: AsyncSession) -> int:
        """Monthly: each lab's purchases of every month that is over, one invoice per
        currency and VAT treatment. Returns how many invoices it made."""
        if not self._monthly:
            return 0
        now = utcnow()
        this_month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        items = list(
            await session.scalars(
                select(InvoiceItem)
                .where(InvoiceItem.invoice_id.is_(None), InvoiceItem.issued_at < this_month)
                .order_by(InvoiceItem.issued_at)
                .limit(CLOSING_BATCH)
                # A second closer waits here, then finds these invoiced and skips them.
                .with_for_update()
            )
        )
        groups: dict[tuple[uuid.UUID, date, str, str, int], list[InvoiceItem]] = {}
        for item in items:
            month = item.issued_at.date().replace(day=1)
            key = (item.buyer_id, month, item.currency, item.vat_treatment, item.vat_rate_bps)
            groups.setdefault(key, []).append(item)
        for (_, month, *_rest), grouped in groups.items():
            invoice = self._invoice_of(grouped, licence_id=None, period=month)
            session.add(invoice)
            await session.flush()
            for item in grouped:
                item.invoice_id = invoice.id
        await session.flush()
        return len(groups)

    def _details_read(self, profile: BillingProfile) -> BillingDetailsRead:
        return BillingDetailsRead(
            buyer_id=profile.buyer_id,
            organisation=profile.organisation,
            address=profile.address,
            country=profile.country,
            vat_id=profile.vat_id,
            vat_treatment=self._rule(profile).treatment,
            updated_at=profile.updated_at,
        )

    async def set_details(
        self, session: AsyncSession, caller: Caller, details: BillingDetailsIn
    ) -> BillingDetailsRead:
        """A lab's billing details, for its purchases from now on (buyers)."""
        require_role(caller, Role.BUYER)
        buyer_id = require_account(caller)
        vat_id = checked_vat_id(details.vat_id, details.country)
        profile = await session.get(BillingProfile, buyer_id, with_for_update=True)
        if profile is None:
            profile = BillingProfile(buyer_id=buyer_id)
            session.add(profile)
        profile.organisation = details.organisation
        profile.address = details.address
        profile.country = details.country
        profile.vat_id = vat_id
        profile.updated_at = utcnow()
        await session.flush()
        return self._details_read(profile)

    async def details(self, session: AsyncSession, caller: Caller) -> BillingDetailsRead:
        require_role(caller, Role.BUYER)
        profile = await session.get(BillingProfile, require_account(caller))
        if profile is None:
            raise NotFound("no billing details yet")
        return self._details_read(profile)

    async def invoices(
        self, session: AsyncSession, caller: Caller, buyer_id: uuid.UUID | None, first: int
    ) -> list[InvoiceRead]:
        """Newest first: a lab's own; any lab's for admins and auditors."""
        if not caller.has(Role.ADMIN, Role.AUDITOR):
            require_role(caller, Role.BUYER)
            buyer_id = require_account(caller)
        statement = select(Invoice).order_by(Invoice.issued_at.desc(), Invoice.id).limit(first)
        if buyer_id is not None:
            statement = statement.where(Invoice.buyer_id == buyer_id)
        return [invoice_read(invoice) for invoice in await session.scalars(statement)]

    async def invoice(
        self, session: AsyncSession, caller: Caller, invoice_id: uuid.UUID
    ) -> InvoiceRead:
        invoice = await session.get(Invoice, invoice_id)
        if invoice is None:
            raise NotFound("no such invoice")
        if not caller.has(Role.ADMIN, Role.AUDITOR) and invoice.buyer_id != caller.account_id:
            # Another lab's invoice is not told apart from none.
            raise NotFound("no such invoice")
        if not caller.has(Role.ADMIN, Role.AUDITOR, Role.BUYER):
            raise Forbidden("only labs, admins and auditors read invoices")
        return invoice_read(invoice)


class InvoiceNumberer:
    """Makes the monthly invoices of months that are over, and numbers invoices in the
    order they were made: `<year>-<six digits>`, gapless.

    The year's counter is locked while a batch is numbered, so replicas number one at a
    time; numbers and the counter commit together, so a crash leaves neither."""

    def __init__(
        self,
        sessionmaker: Callable[[], async_sessionmaker[AsyncSession]],
        invoicing: Invoicing,
        *,
        poll_seconds: float,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._invoicing = invoicing
        self.worker = PollingWorker(
            self.number_due,
            name="invoice-numbers",
            poll_seconds=poll_seconds,
            batch_size=NUMBERING_BATCH,
        )

    async def number_due(self) -> int:
        """Closes the months that are over (monthly invoices), then numbers what is due."""
        async with self._sessionmaker()() as session, session.begin():
            await self._invoicing.close_months(session)
            due = list(
                await session.scalars(
                    select(Invoice)
                    .where(Invoice.number.is_(None))
                    .order_by(Invoice.issued_at, Invoice.id)
                    .limit(NUMBERING_BATCH)
                    # A second numberer waits here, then finds these numbered and skips them.
                    .with_for_update()
                )
            )
            counters: dict[str, InvoiceCounter] = {}
            for invoice in due:
                series = str(invoice.issued_at.year)
                if series not in counters:
                    counters[series] = await self._counter(session, series)
                counter = counters[series]
                counter.last_number += 1
                invoice.number = f"{series}-{counter.last_number:06d}"
            await session.flush()
        return len(due)

    async def _counter(self, session: AsyncSession, series: str) -> InvoiceCounter:
        counter = await session.get(InvoiceCounter, series, with_for_update=True)
        if counter is not None:
            return counter
        counter = InvoiceCounter(series=series, last_number=0)
        try:
            async with session.begin_nested():
                session.add(counter)
        except IntegrityError:
            # Another numberer opened the year a moment ago: lock what it made.
            found = await session.get(InvoiceCounter, series, with_for_update=True)
            assert found is not None
            return found
        return counter
