"""Licensing's GraphQL types: bundles, quotes, licences, the ledger and creators' earnings."""

import uuid
from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from gateway.context import Context
from gateway.limits import list_bound
from gateway.types.catalogue import MediaType, Money, Terms, Use, Work
from gateway.types.delivery import Delivery
from gateway.types.errors import (
    Conflict,
    Forbidden,
    InsufficientFunds,
    NotFound,
    QuoteExpired,
    ServiceUnavailable,
    Unauthenticated,
    ValidationFailed,
    unavailable_in_place,
)
from gateway.types.scalars import BigInt
from services.contracts import licensing as contract
from services.kit import errors

BundleSource = contract.BundleSource
ExclusionReason = contract.ExclusionReason
QuoteStatus = contract.QuoteStatus
LicenceStatus = contract.LicenceStatus
LicenceLineStatus = contract.LicenceLineStatus
TransactionKind = contract.TransactionKind
LedgerAccountKind = contract.LedgerAccountKind
Period = contract.Period
for _enum in (
    BundleSource,
    ExclusionReason,
    QuoteStatus,
    LicenceStatus,
    LicenceLineStatus,
    TransactionKind,
    LedgerAccountKind,
    Period,
):
    strawberry.enum(_enum)


def _money(amount_minor: int, currency: str) -> Money:
    return Money(amount_minor=BigInt(amount_minor), currency=currency)


def _id(value: uuid.UUID | None) -> strawberry.ID | None:
    return strawberry.ID(str(value)) if value is not None else None


@strawberry.type
class Bundle:
    id: strawberry.ID
    name: str
    uses: list[Use]
    currency: str
    source: BundleSource
    work_ids: list[strawberry.ID]
    created_at: datetime

    @classmethod
    def of(cls, bundle: contract.BundleRead) -> "Bundle":
        return cls(
            id=strawberry.ID(str(bundle.id)),
            name=bundle.name,
            uses=list(bundle.uses),
            currency=bundle.currency,
            source=bundle.source,
            work_ids=[strawberry.ID(str(work_id)) for work_id in bundle.work_ids],
            created_at=bundle.created_at,
        )

    @strawberry.field(
        description="The bundle's works you may still see (one batch call).",
        metadata=list_bound(contract.MAX_BUNDLE_WORKS),
    )
    async def works(self, info: Info[Context, None]) -> list[Work]:
        loaded = await info.context.loaders.works.load_many(
            [uuid.UUID(str(work_id)) for work_id in self.work_ids]
        )
        return [Work.of(work) for work in loaded if work is not None]


@strawberry.type
class BundleConnection:
    items: list[Bundle]
    next_cursor: str | None


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
            price=_money(line.price_minor, currency),
            platform_fee=_money(line.platform_fee_minor, currency),
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
            subtotal=_money(quote.subtotal_minor, currency),
            platform_fee=_money(quote.platform_fee_minor, currency),
            total=_money(quote.total_minor, currency),
            platform_fee_bps=quote.platform_fee_bps,
            status=quote.status,
            created_at=quote.created_at,
            expires_at=quote.expires_at,
        )


@strawberry.type
class LicenceLine:
    work_id: strawberry.ID
    version_id: strawberry.ID
    title: str
    media_type: MediaType
    file_name: str
    size: BigInt
    sha256: str
    attribution: str
    terms_id: str
    terms: Terms
    price: Money
    starts_at: datetime
    ends_at: datetime
    status: LicenceLineStatus
    excluded_reason: str | None


@strawberry.type
class Licence:
    id: strawberry.ID
    buyer_id: strawberry.ID
    buyer_name: str
    bundle_id: strawberry.ID
    quote_id: strawberry.ID
    uses: list[Use]
    total: Money
    platform_fee: Money
    refunded: Money
    status: LicenceStatus
    granted_at: datetime
    starts_at: datetime
    ends_at: datetime
    refunded_at: datetime | None
    lines: list[LicenceLine] = strawberry.field(metadata=list_bound(contract.MAX_BUNDLE_WORKS))

    @classmethod
    def of(cls, licence: contract.LicenceRead) -> "Licence":
        currency = licence.currency
        return cls(
            id=strawberry.ID(str(licence.id)),
            buyer_id=strawberry.ID(str(licence.buyer_id)),
            buyer_name=licence.buyer_name,
            bundle_id=strawberry.ID(str(licence.bundle_id)),
            quote_id=strawberry.ID(str(licence.quote_id)),
            uses=list(licence.uses),
            total=_money(licence.total_minor, currency),
            platform_fee=_money(licence.platform_fee_minor, currency),
            refunded=_money(licence.refunded_minor, currency),
            status=licence.status,
            granted_at=licence.granted_at,
            starts_at=licence.starts_at,
            ends_at=licence.ends_at,
            refunded_at=licence.refunded_at,
            lines=[
                LicenceLine(
                    work_id=strawberry.ID(str(line.work_id)),
                    version_id=strawberry.ID(str(line.version_id)),
                    title=line.title,
                    media_type=line.media_type,
                    file_name=line.file_name,
                    size=BigInt(line.size),
                    sha256=line.sha256,
                    attribution=line.attribution,
                    terms_id=line.terms_id,
                    terms=Terms.of(line.terms),
                    price=_money(line.price_minor, currency),
                    starts_at=line.starts_at,
                    ends_at=line.ends_at,
                    status=line.status,
                    excluded_reason=line.excluded_reason,
                )
                for line in licence.lines
            ],
        )

    @strawberry.field(
        description="The licence as a signed (Ed25519, DSSE) certificate to show a third "
        "party: {certificate, envelope}; `assent verify` checks it offline. Null, with a "
        "SERVICE_UNAVAILABLE error at its path, when licensing does not answer."
    )
    async def certificate(self, info: Info[Context, None]) -> JSON | None:
        try:
            read = await info.context.loaders.certificates.load(uuid.UUID(str(self.id)))
        except errors.ServiceUnavailable as error:
            raise unavailable_in_place(error) from error
        return JSON(read.model_dump(mode="json", by_alias=True)) if read else None

    @strawberry.field(
        description="The delivery built for this licence, once it exists. Null, with a "
        "SERVICE_UNAVAILABLE error at its path, when delivery does not answer."
    )
    async def delivery(self, info: Info[Context, None]) -> Delivery | None:
        try:
            found = await info.context.loaders.delivery_of_licence.load(uuid.UUID(str(self.id)))
        except errors.ServiceUnavailable as error:
            raise unavailable_in_place(error) from error
        return Delivery.of(found) if found else None


@strawberry.type
class LicenceConnection:
    items: list[Licence]
    next_cursor: str | None


@strawberry.type
class Posting:
    account_kind: LedgerAccountKind
    owner_id: strawberry.ID | None
    amount: Money = strawberry.field(description="Signed; a transaction sums to zero.")
    work_id: strawberry.ID | None


@strawberry.type
class LedgerTransaction:
    id: strawberry.ID
    kind: TransactionKind
    licence_id: strawberry.ID | None
    reference: str | None
    recorded_at: datetime
    postings: list[Posting]

    @classmethod
    def of(cls, tx: contract.TransactionRead) -> "LedgerTransaction":
        return cls(
            id=strawberry.ID(str(tx.id)),
            kind=tx.kind,
            licence_id=_id(tx.licence_id),
            reference=tx.reference,
            recorded_at=tx.recorded_at,
            postings=[
                Posting(
                    account_kind=p.account_kind,
                    owner_id=_id(p.owner_id),
                    amount=_money(p.amount_minor, tx.currency),
                    work_id=_id(p.work_id),
                )
                for p in tx.postings
            ],
        )


@strawberry.type
class Balance:
    account_kind: LedgerAccountKind
    balance: Money

    @classmethod
    def of(cls, balance: contract.BalanceRead) -> "Balance":
        return cls(
            account_kind=balance.account_kind,
            balance=_money(balance.balance_minor, balance.currency),
        )


@strawberry.type
class Balances:
    owner_id: strawberry.ID
    balances: list[Balance]


@strawberry.type
class LedgerCheck:
    transactions: int
    unbalanced_transactions: list[strawberry.ID]
    mixed_currency_transactions: list[strawberry.ID]
    balance_mismatches: list[str]
    negative_buyer_balances: list[strawberry.ID]
    sound: bool = strawberry.field(description="Every invariant holds.")


@strawberry.type
class EarningLine:
    licence_id: strawberry.ID
    work_id: strawberry.ID
    title: str
    buyer_id: strawberry.ID
    buyer_name: str
    uses: list[Use]
    basis_points: int
    amount: Money = strawberry.field(description="Your share; negative for a refund.")
    kind: TransactionKind
    recorded_at: datetime


@strawberry.type
class WorkEarnings:
    work_id: strawberry.ID
    title: str
    amount: Money
    licences: int


@strawberry.type
class PeriodEarnings:
    period_start: datetime
    amount: Money


@strawberry.type
class Payout:
    transaction_id: strawberry.ID
    amount: Money
    reference: str
    recorded_at: datetime


@strawberry.type
class Earnings:
    creator_id: strawberry.ID
    lines: list[EarningLine]
    by_work: list[WorkEarnings]
    by_period: list[PeriodEarnings]
    payouts: list[Payout]
    owed: list[Money] = strawberry.field(description="Earned and not yet paid out.")

    @classmethod
    def of(cls, earnings: contract.EarningsRead) -> "Earnings":
        return cls(
            creator_id=strawberry.ID(str(earnings.creator_id)),
            lines=[
                EarningLine(
                    licence_id=strawberry.ID(str(line.licence_id)),
                    work_id=strawberry.ID(str(line.work_id)),
                    title=line.title,
                    buyer_id=strawberry.ID(str(line.buyer_id)),
                    buyer_name=line.buyer_name,
                    uses=list(line.uses),
                    basis_points=line.basis_points,
                    amount=_money(line.amount_minor, line.currency),
                    kind=line.kind,
                    recorded_at=line.recorded_at,
                )
                for line in earnings.lines
            ],
            by_work=[
                WorkEarnings(
                    work_id=strawberry.ID(str(w.work_id)),
                    title=w.title,
                    amount=_money(w.amount_minor, w.currency),
                    licences=w.licences,
                )
                for w in earnings.by_work
            ],
            by_period=[
                PeriodEarnings(
                    period_start=p.period_start, amount=_money(p.amount_minor, p.currency)
                )
                for p in earnings.by_period
            ],
            payouts=[
                Payout(
                    transaction_id=strawberry.ID(str(p.transaction_id)),
                    amount=_money(p.amount_minor, p.currency),
                    reference=p.reference,
                    recorded_at=p.recorded_at,
                )
                for p in earnings.payouts
            ],
            owed=[_money(b.balance_minor, b.currency) for b in earnings.balances],
        )


# --- payloads ---


@strawberry.type
class BundleCreated:
    bundle: Bundle


@strawberry.type
class QuoteIssued:
    quote: Quote


@strawberry.type
class PurchaseSucceeded:
    licence: Licence
    replayed: bool = strawberry.field(
        description="True when this idempotency key had already bought the licence."
    )


@strawberry.type
class LicenceRefunded:
    licence: Licence


@strawberry.type
class MoneyRecorded:
    transaction: LedgerTransaction


_Refusals = Unauthenticated | ServiceUnavailable

BundleResult = Annotated[Bundle | NotFound | _Refusals, strawberry.union("BundleResult")]
BundlesResult = Annotated[
    BundleConnection | ValidationFailed | _Refusals, strawberry.union("BundlesResult")
]
QuoteResult = Annotated[Quote | NotFound | _Refusals, strawberry.union("QuoteResult")]
LicenceResult = Annotated[Licence | NotFound | _Refusals, strawberry.union("LicenceResult")]
LicencesResult = Annotated[
    LicenceConnection | ValidationFailed | _Refusals, strawberry.union("LicencesResult")
]
BalancesResult = Annotated[
    Balances | ValidationFailed | Forbidden | _Refusals, strawberry.union("BalancesResult")
]
LedgerCheckResult = Annotated[
    LedgerCheck | Forbidden | _Refusals, strawberry.union("LedgerCheckResult")
]
EarningsResult = Annotated[
    Earnings | ValidationFailed | Forbidden | _Refusals, strawberry.union("EarningsResult")
]
CreateBundleResult = Annotated[
    BundleCreated | ValidationFailed | Forbidden | _Refusals,
    strawberry.union("CreateBundleResult"),
]
QuoteBundleResult = Annotated[
    QuoteIssued | NotFound | Forbidden | _Refusals, strawberry.union("QuoteBundleResult")
]
PurchaseResult = Annotated[
    PurchaseSucceeded
    | QuoteExpired
    | InsufficientFunds
    | Conflict
    | NotFound
    | Forbidden
    | ValidationFailed
    | _Refusals,
    strawberry.union("PurchaseResult"),
]
RefundLicenceResult = Annotated[
    LicenceRefunded | Conflict | NotFound | Forbidden | ValidationFailed | _Refusals,
    strawberry.union("RefundLicenceResult"),
]
RecordMoneyResult = Annotated[
    MoneyRecorded | InsufficientFunds | Conflict | ValidationFailed | Forbidden | _Refusals,
    strawberry.union("RecordMoneyResult"),
]
