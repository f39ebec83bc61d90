"""Purchases, licences, their certificates and refunds."""

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from assent.protocol import Signer
from services.contracts.catalogue import (
    Use,
)
from services.contracts.delivery import DeliveryIssued
from services.contracts.events import Topic
from services.contracts.licensing import (
    CertificateRead,
    ExclusionReason,
    LedgerAccountKind,
    LicenceLineRead,
    LicenceLineStatus,
    LicencePage,
    LicenceRead,
    LicenceStatus,
    PurchaseIn,
    PurchaseRead,
    QuoteLine,
    RefundIn,
    TransactionKind,
)
from services.contracts.licensing import LicenceRefunded as LicenceRefundedEvent
from services.kit.db import utcnow
from services.kit.errors import NotFound
from services.kit.internal_token import Caller
from services.kit.outbox import emit
from services.licensing.errors import (
    IdempotencyKeyReused,
    InsufficientFunds,
    LicenceRefunded,
    NothingToPurchase,
    QuoteExpired,
    QuotePurchased,
)
from services.licensing.invoice.service import Invoicing
from services.licensing.ledger.repository import LedgerRepository
from services.licensing.ledger.service import (
    LedgerService,
    buyer_account,
    reversal,
    sale_entries,
)
from services.licensing.ledger.transaction import Entry
from services.licensing.licence.certificate import signed_certificate
from services.licensing.licence.exclusivity import HoldingRepository, Wanted, conflict
from services.licensing.licence.grant import LicenceGrant
from services.licensing.licence.repository import LicenceRepository, PurchaseRepository
from services.licensing.licence.sale_scope import sale_scope_service
from services.licensing.models import (
    Licence,
)
from services.licensing.quote.repository import QuoteRepository
from services.licensing.rules import (
    require_account,
)

log = structlog.get_logger()

SERVICE_ACCOUNT = uuid.UUID(int=0)
"""`recorded_by` of what licensing records on its own (refunds of undelivered lines)."""


def licence_read(licence: Licence, *, now: datetime) -> LicenceRead:
    """The licence as sold, with whether its duration (or each line's) has run out by now."""
    read = LicenceRead.model_validate(licence)
    return read.model_copy(
        update={
            "expired": read.ends_at <= now,
            "lines": [
                line.model_copy(update={"expired": line.ends_at <= now}) for line in read.lines
            ],
        }
    )


def _attribution(line: QuoteLine) -> str:
    return ", ".join(share.creator_name for share in line.shares)


class LicenceService:
    def __init__(self, ledger: LedgerService, invoicing: Invoicing) -> None:
        self.ledger = ledger
        self.invoicing = invoicing

    async def purchase(
        self, session: AsyncSession, caller: Caller, purchase: PurchaseIn
    ) -> PurchaseRead:
        """Buy a quote once per idempotency key, however often the request is repeated."""
        buyer_id = require_account(caller)
        purchases = PurchaseRepository(session)
        try:
            claimed = await purchases.claim(buyer_id, purchase.idempotency_key, purchase.quote_id)
        except IntegrityError as exc:
            # The key's row refers to its quote: an unknown quote fails the foreign key.
            raise NotFound("no such quote") from exc
        if not claimed:
            return await self._replay(session, buyer_id, purchase)
        now = utcnow()
        quotes = QuoteRepository(session)
        quote = await quotes.mark_purchased(purchase.quote_id, now)
        if quote is None:
            bought = await quotes.get(purchase.quote_id)
            if bought is None or bought.buyer_id != buyer_id:
                raise NotFound("no such quote")
            raise QuotePurchased("this quote was bought under another idempotency key")
        if quote.buyer_id != buyer_id:
            raise NotFound("no such quote")
        if now >= quote.expires_at:
            raise QuoteExpired("the quote has expired; quote the bundle again")
        lines = [QuoteLine.model_validate(line) for line in quote.lines]
        if not lines:
            raise NothingToPurchase("every work of this quote was excluded")
        closed = await sale_scope_service.unsellable(
            session,
            [line.work_id for line in lines],
            quote.uses,
            sold_exclusively=[line.work_id for line in lines if line.terms.exclusivity_days],
        )
        closed |= await self._held_by_others(session, buyer_id, quote.uses, lines, closed, now)
        sold = [line for line in lines if line.work_id not in closed]
        if not sold:
            raise NothingToPurchase("no work of this quote is for sale any more")
        total = sum(line.price_minor for line in sold)
        billing = await self.invoicing.billing(session, buyer_id)
        vat = {line.work_id: billing.rule.vat_of(line.price_minor) for line in sold}
        due = total + sum(vat.values())
        buyer = buyer_account(buyer_id, quote.currency)
        balance = await LedgerRepository(session).lock_stored_balance(buyer.id) or 0
        if balance < due:
            raise InsufficientFunds(
                f"the balance is {balance} {quote.currency}, the sale {due} with its VAT"
            )
        read = LicenceRead(
            id=uuid.uuid4(),
            buyer_id=buyer_id,
            buyer_name=caller.name or "Unnamed buyer",
            bundle_id=quote.bundle_id,
            quote_id=quote.id,
            uses=[Use(use) for use in quote.uses],
            currency=quote.currency,
            total_minor=total,
            platform_fee_minor=sum(line.platform_fee_minor for line in sold),
            refunded_minor=0,
            status=LicenceStatus.ACTIVE,
            granted_at=now,
            starts_at=now,
            ends_at=max(now + timedelta(days=line.terms.duration_days) for line in sold),
            refunded_at=None,
            lines=[
                LicenceLineRead(
                    work_id=line.work_id,
                    version_id=line.version_id,
                    title=line.title,
                    media_type=line.media_type,
                    file_name=line.file_name,
                    size=line.size,
                    sha256=line.sha256,
                    attribution=_attribution(line),
                    terms_id=line.terms_id,
                    terms=line.terms,
                    price_minor=line.price_minor,
                    starts_at=now,
                    ends_at=now + timedelta(days=line.terms.duration_days),
                    status=LicenceLineStatus.EXCLUDED
                    if line.work_id in closed
                    else LicenceLineStatus.ACTIVE,
                    excluded_reason=closed.get(line.work_id),
                )
                for line in lines
            ],
        )
        grant = LicenceGrant(read, lines)
        await LicenceRepository(session).grant(grant)
        await self.ledger.record(
            session,
            kind=TransactionKind.SALE,
            currency=quote.currency,
            entries=sale_entries(buyer_id, quote.currency, sold, vat),
            recorded_by=buyer_id,
            licence_id=read.id,
            dedupe_key=f"sale:{read.id}",
            events=[(Topic.LICENCE_GRANTED, grant.announced())],
        )
        self.invoicing.invoice_purchase(session, read, sold, vat, billing)
        log.info("licence.purchase.granted", licence_id=str(read.id), total=total)
        return PurchaseRead(licence=read, replayed=False)

    async def _held_by_others(
        self,
        session: AsyncSession,
        buyer_id: uuid.UUID,
        uses: Collection[str],
        lines: Sequence[QuoteLine],
        closed: Collection[uuid.UUID],
        now: datetime,
    ) -> dict[uuid.UUID, ExclusionReason]:
        """The lines another buyer's licence keeps from this sale, read under the works'
        locks: an exclusive window open on them, or an exclusive line they still cover."""
        open_lines = [line for line in lines if line.work_id not in closed]
        holdings = await HoldingRepository(session).in_force(
            [line.work_id for line in open_lines],
            now=now,
            every_line_of=[line.work_id for line in open_lines if line.terms.exclusivity_days],
        )
        held: dict[uuid.UUID, ExclusionReason] = {}
        for line in open_lines:
            wanted = Wanted(buyer_id=buyer_id, uses=frozenset(uses), terms=line.terms)
            if conflict(wanted, holdings.get(line.work_id, []), now=now) is not None:
                held[line.work_id] = ExclusionReason.EXCLUSIVE
        return held

    async def _replay(
        self, session: AsyncSession, buyer_id: uuid.UUID, purchase: PurchaseIn
    ) -> PurchaseRead:
        claimed = await PurchaseRepository(session).find(buyer_id, purchase.idempotency_key)
        assert claimed is not None
        if claimed.quote_id != purchase.quote_id:
            raise IdempotencyKeyReused("this idempotency key already bought another quote")
        licence = await LicenceRepository(session).by_quote(claimed.quote_id)
        assert licence is not None
        log.info("licence.purchase.idempotent_replay", licence_id=str(licence.id))
        return PurchaseRead(licence=licence_read(licence, now=utcnow()), replayed=True)

    async def page(
        self, session: AsyncSession, caller: Caller, *, after: str | None, first: int
    ) -> LicencePage:
        """Newest first: a buyer's own licences; every licence for admins and auditors."""
        buyer_id = None if caller.sees_everything else caller.account_id
        if buyer_id is None and not caller.sees_everything:
            return LicencePage(items=[], next_cursor=None)
        page = await LicenceRepository(session).page(buyer_id=buyer_id, after=after, limit=first)
        now = utcnow()
        return LicencePage(
            items=[licence_read(licence, now=now) for licence in page.items],
            next_cursor=page.next_cursor,
        )

    async def get_many(
        self, session: AsyncSession, caller: Caller, ids: Sequence[uuid.UUID]
    ) -> list[LicenceRead]:
        licences = await LicenceRepository(session).get_many_for_read(list(dict.fromkeys(ids)))
        now = utcnow()
        return [
            licence_read(licence, now=now) for licence in licences if self._may_see(caller, licence)
        ]

    async def get(
        self, session: AsyncSession, caller: Caller, licence_id: uuid.UUID
    ) -> LicenceRead:
        return licence_read(await self._visible(session, caller, licence_id), now=utcnow())

    async def certificate(
        self, session: AsyncSession, caller: Caller, licence_id: uuid.UUID, *, signer: Signer
    ) -> CertificateRead:
        """The licence as a signed document: the works still licensed, and its status."""
        return signed_certificate(await self._visible(session, caller, licence_id), signer)

    async def certificates(
        self, session: AsyncSession, caller: Caller, ids: Sequence[uuid.UUID], *, signer: Signer
    ) -> list[CertificateRead]:
        """Each licence's certificate in the order asked; those the caller may not see (or
        that do not exist) are left out."""
        licences = await LicenceRepository(session).get_many_for_read(list(dict.fromkeys(ids)))
        return [
            signed_certificate(licence, signer)
            for licence in licences
            if self._may_see(caller, licence)
        ]

    async def refund(
        self, session: AsyncSession, caller: Caller, licence_id: uuid.UUID, refund: RefundIn
    ) -> LicenceRead:
        """Revoke the licence and reverse whatever of its sale is not yet reversed."""
        admin_id = require_account(caller)
        licence = await LicenceRepository(session).lock(licence_id)
        if licence is None:
            raise NotFound("no such licence")
        if licence.status == LicenceStatus.REFUNDED:
            raise LicenceRefunded("this licence has already been refunded")
        active = {line.work_id for line in licence.lines if line.status == LicenceLineStatus.ACTIVE}
        sold = await LedgerRepository(session).licence_postings(licence.id, TransactionKind.SALE)
        entries = reversal(
            [
                posting
                for posting in sold
                if posting.work_id in active
                and posting.account.kind != LedgerAccountKind.BUYER_BALANCE
            ]
        )
        now = utcnow()
        for line in licence.lines:
            if line.status == LicenceLineStatus.ACTIVE:
                line.status = LicenceLineStatus.REFUNDED
        licence.status = LicenceStatus.REFUNDED
        licence.refunded_minor = licence.total_minor
        licence.refunded_at = now
        licence.refunded_by = admin_id
        licence.refund_reason = refund.reason
        # What the reversed postings return: each active line's price and its VAT.
        remaining = -sum(entry.amount_minor for entry in entries)
        refunded = LicenceRefundedEvent(
            licence_id=licence.id,
            buyer_id=licence.buyer_id,
            refunded_by=admin_id,
            reason=refund.reason,
            refunded_at=now,
            amount_minor=remaining,
            currency=licence.currency,
        )
        # Nothing is left to reverse when delivery already left every line out.
        if remaining:
            await self.ledger.record(
                session,
                kind=TransactionKind.REFUND,
                currency=licence.currency,
                entries=[
                    Entry(buyer_account(licence.buyer_id, licence.currency), remaining, None),
                    *entries,
                ],
                recorded_by=admin_id,
                licence_id=licence.id,
                reference=refund.reason[:200],
                dedupe_key=f"refund:{licence.id}",
                events=[(Topic.LICENCE_REFUNDED, refunded)],
            )
        else:
            emit(session, Topic.LICENCE_REFUNDED, refunded)
        await session.flush()
        log.info("licence.refunded", licence_id=str(licence.id), amount=remaining)
        return licence_read(licence, now=utcnow())

    async def refund_undelivered(self, session: AsyncSession, issued: DeliveryIssued) -> None:
        """Refund each sold line delivery reports it could not deliver.

        A line sold before its work's withdrawal is delivered on its terms, so this
        refunds only what delivery genuinely could not deliver (a file gone, say)."""
        if not issued.excluded:
            return
        licence = await LicenceRepository(session).lock(issued.licence_id)
        if licence is None:
            log.warning("licence.exclusion.unknown_licence", licence_id=str(issued.licence_id))
            return
        if licence.status == LicenceStatus.REFUNDED:
            return
        lines = {line.work_id: line for line in licence.lines}
        sold = await LedgerRepository(session).licence_postings(licence.id, TransactionKind.SALE)
        for exclusion in issued.excluded:
            line = lines.get(exclusion.work_id)
            if line is None or line.status != LicenceLineStatus.ACTIVE:
                continue
            line.status = LicenceLineStatus.EXCLUDED
            line.excluded_reason = exclusion.reason[:200]
            licence.refunded_minor += line.price_minor
            reversed_line = reversal(
                [
                    posting
                    for posting in sold
                    if posting.work_id == line.work_id
                    and posting.account.kind != LedgerAccountKind.BUYER_BALANCE
                ]
            )
            await self.ledger.record(
                session,
                kind=TransactionKind.REFUND,
                currency=licence.currency,
                entries=[
                    Entry(
                        buyer_account(licence.buyer_id, licence.currency),
                        # The line's price and its VAT, as the sale charged them.
                        -sum(entry.amount_minor for entry in reversed_line),
                        line.work_id,
                    ),
                    *reversed_line,
                ],
                recorded_by=SERVICE_ACCOUNT,
                licence_id=licence.id,
                reference=f"left out of delivery {issued.delivery_id}",
                dedupe_key=f"refund:{licence.id}:{line.work_id}",
            )
            log.info(
                "licence.line.excluded",
                licence_id=str(licence.id),
                work_id=str(line.work_id),
                reason=exclusion.reason,
            )
        await session.flush()

    def _may_see(self, caller: Caller, licence: Licence) -> bool:
        return caller.sees_everything or licence.buyer_id == caller.account_id

    async def _visible(
        self, session: AsyncSession, caller: Caller, licence_id: uuid.UUID
    ) -> Licence:
        """The licence if the caller may see it; otherwise 404, never revealing it exists."""
        licence = await LicenceRepository(session).get_for_read(licence_id)
        if licence is None or not self._may_see(caller, licence):
            raise NotFound("no such licence")
        return licence
