"""Quotes: a bundle's works priced now and locked until the quote expires."""

import uuid
from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.catalogue import (
    Use,
)
from services.contracts.licensing import (
    ExclusionReason,
    QuoteExclusion,
    QuoteIn,
    QuoteLine,
    QuoteRead,
    QuoteStatus,
)
from services.kit.db import utcnow
from services.kit.errors import NotFound
from services.kit.internal_token import Caller
from services.licensing.bundle.repository import BundleRepository
from services.licensing.catalogue_client import CatalogueClient
from services.licensing.licence.exclusivity import Holding, HoldingRepository, Wanted, conflict
from services.licensing.models import (
    Quote,
)
from services.licensing.quote.pricing import price
from services.licensing.quote.repository import QuoteRepository
from services.licensing.rules import (
    end_read_before_calling_out,
    require_account,
)

log = structlog.get_logger()


def quote_read(quote: Quote, *, now: datetime) -> QuoteRead:
    if quote.purchased_at is not None:
        status = QuoteStatus.PURCHASED
    elif now >= quote.expires_at:
        status = QuoteStatus.EXPIRED
    else:
        status = QuoteStatus.OPEN
    return QuoteRead(
        id=quote.id,
        bundle_id=quote.bundle_id,
        buyer_id=quote.buyer_id,
        currency=quote.currency,
        uses=[Use(use) for use in quote.uses],
        lines=[QuoteLine.model_validate(line) for line in quote.lines],
        excluded=[QuoteExclusion.model_validate(exclusion) for exclusion in quote.excluded],
        subtotal_minor=quote.subtotal_minor,
        platform_fee_minor=quote.platform_fee_minor,
        total_minor=quote.total_minor,
        platform_fee_bps=quote.platform_fee_bps,
        status=status,
        created_at=quote.created_at,
        expires_at=quote.expires_at,
    )


def _unless_held(
    line: QuoteLine,
    buyer_id: uuid.UUID,
    uses: set[Use],
    holdings: dict[uuid.UUID, list[Holding]],
    *,
    now: datetime,
) -> QuoteLine | QuoteExclusion:
    """The line, or its exclusion when another buyer's licence of the work stands in its way."""
    wanted = Wanted(buyer_id=buyer_id, uses=frozenset(uses), terms=line.terms)
    reason = conflict(wanted, holdings.get(line.work_id, []), now=now)
    if reason is None:
        return line
    return QuoteExclusion(work_id=line.work_id, reason=ExclusionReason.EXCLUSIVE, detail=reason)


class QuoteService:
    async def create(
        self,
        session: AsyncSession,
        caller: Caller,
        quote_in: QuoteIn,
        *,
        catalogue: CatalogueClient,
        fee_bps: int,
        ttl: timedelta,
    ) -> QuoteRead:
        buyer_id = require_account(caller)
        bundle = await BundleRepository(session).get(quote_in.bundle_id)
        if bundle is None or bundle.buyer_id != buyer_id:
            raise NotFound("no such bundle")
        await end_read_before_calling_out(session)
        work_ids = [uuid.UUID(work_id) for work_id in bundle.work_ids]
        found = {work.id: work for work in await catalogue.works(work_ids)}
        uses = {Use(use) for use in bundle.uses}
        lines: list[QuoteLine] = []
        excluded: list[QuoteExclusion] = []
        now = utcnow()
        priced = [
            price(
                work_id,
                found.get(work_id),
                buyer_id=buyer_id,
                uses=uses,
                currency=bundle.currency,
                fee_bps=fee_bps,
            )
            for work_id in work_ids
        ]
        holdings = await HoldingRepository(session).in_force(
            work_ids,
            now=now,
            every_line_of=[
                outcome.work_id
                for outcome in priced
                if isinstance(outcome, QuoteLine) and outcome.terms.exclusivity_days
            ],
        )
        for outcome in priced:
            if isinstance(outcome, QuoteLine):
                outcome = _unless_held(outcome, buyer_id, uses, holdings, now=now)
            if isinstance(outcome, QuoteLine):
                lines.append(outcome)
            else:
                excluded.append(outcome)
        subtotal = sum(line.price_minor for line in lines)
        quote = await QuoteRepository(session).create(
            Quote(
                id=uuid.uuid4(),
                bundle_id=bundle.id,
                buyer_id=buyer_id,
                currency=bundle.currency,
                uses=bundle.uses,
                lines=[line.model_dump(mode="json") for line in lines],
                excluded=[exclusion.model_dump(mode="json") for exclusion in excluded],
                subtotal_minor=subtotal,
                platform_fee_minor=sum(line.platform_fee_minor for line in lines),
                # The fee is inside the price: the buyer pays the sum of the prices.
                total_minor=subtotal,
                platform_fee_bps=fee_bps,
                created_at=now,
                expires_at=now + ttl,
            )
        )
        return quote_read(quote, now=now)

    async def get(self, session: AsyncSession, caller: Caller, quote_id: uuid.UUID) -> QuoteRead:
        quote = await QuoteRepository(session).get(quote_id)
        if quote is None or not (caller.sees_everything or quote.buyer_id == caller.account_id):
            raise NotFound("no such quote")
        return quote_read(quote, now=utcnow())


quote_service = QuoteService()
