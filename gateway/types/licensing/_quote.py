"""Quotes: a bundle priced line by line, locked for a while, with the works left out."""

from datetime import datetime
from typing import Annotated

import strawberry

from gateway.document_limits import list_bound
from gateway.types.catalogue import MediaType, Money, Terms, Use
from gateway.types.errors import Forbidden, NotFound, Refusals
from gateway.types.licensing._common import ExclusionReason, QuoteStatus, money
from gateway.types.scalars import BigInt
from services.contracts import licensing as contract


@strawberry.type
class ShareLine:
    creator_id: strawberry.ID
    creator_name: str
    basis_points: int


@strawberry.type
class QuoteLine:
    work_id: strawberry.ID
    version_id: strawberry.ID
    title: str
    media_type: MediaType
    file_name: str
    size: BigInt
    sha256: str
    offer_id: strawberry.ID
    terms_id: str
    terms: Terms
    price: Money
    platform_fee: Money
    shares: list[ShareLine]

    @classmethod
    def of(cls, line: contract.QuoteLine, currency: str) -> "QuoteLine":
        return cls(
            work_id=strawberry.ID(str(line.work_id)),
            version_id=strawberry.ID(str(line.version_id)),
            title=line.title,
            media_type=line.media_type,
            file_name=line.file_name,
            size=BigInt(line.size),
            sha256=line.sha256,
            offer_id=strawberry.ID(str(line.offer_id)),
            terms_id=line.terms_id,
            terms=Terms.of(line.terms),
            price=money(line.price_minor, currency),
            platform_fee=money(line.platform_fee_minor, currency),
            shares=[
                ShareLine(
                    creator_id=strawberry.ID(str(share.creator_id)),
                    creator_name=share.creator_name,
                    basis_points=share.basis_points,
                )
                for share in line.shares
            ],
        )


@strawberry.type
class QuoteExclusion:
    work_id: strawberry.ID
    reason: ExclusionReason
    detail: str


@strawberry.type
class Quote:
    id: strawberry.ID
    bundle_id: strawberry.ID
    currency: str
    uses: list[Use]
    lines: list[QuoteLine] = strawberry.field(metadata=list_bound(contract.MAX_BUNDLE_WORKS))
    excluded: list[QuoteExclusion] = strawberry.field(description="Works left out, and why.")
    subtotal: Money
    platform_fee: Money = strawberry.field(description="Taken out of the total, not added.")
    total: Money = strawberry.field(description="What the purchase charges.")
    platform_fee_bps: int
    status: QuoteStatus
    created_at: datetime
    expires_at: datetime

    @classmethod
    def of(cls, quote: contract.QuoteRead) -> "Quote":
        currency = quote.currency
        return cls(
            id=strawberry.ID(str(quote.id)),
            bundle_id=strawberry.ID(str(quote.bundle_id)),
            currency=currency,
            uses=list(quote.uses),
            lines=[QuoteLine.of(line, currency) for line in quote.lines],
            excluded=[
                QuoteExclusion(
                    work_id=strawberry.ID(str(ex.work_id)), reason=ex.reason, detail=ex.detail
                )
                for ex in quote.excluded
            ],
            subtotal=money(quote.subtotal_minor, currency),
            platform_fee=money(quote.platform_fee_minor, currency),
            total=money(quote.total_minor, currency),
            platform_fee_bps=quote.platform_fee_bps,
            status=quote.status,
            created_at=quote.created_at,
            expires_at=quote.expires_at,
        )


@strawberry.type
class QuoteIssued:
    quote: Quote


QuoteResult = Annotated[Quote | NotFound | Refusals, strawberry.union("QuoteResult")]
QuoteBundleResult = Annotated[
    QuoteIssued | NotFound | Forbidden | Refusals, strawberry.union("QuoteBundleResult")
]
