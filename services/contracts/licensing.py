"""What crosses HTTP between licensing and its callers (the gateway, delivery, audit).

Money is integer minor units with an ISO 4217 currency. The buyer pays the quoted price;
the platform fee is taken out of it (`platform_fee_bps` of each line, rounded down) and the
rest is split among the work's co-creators by their shares.
"""

from datetime import datetime
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from services.contracts.catalogue import (
    MAX_PAGE_SIZE,
    MAX_PRICE_MINOR,
    MediaType,
    Terms,
    Use,
    WorkSearch,
)
from services.contracts.roles import Role
from services.contracts.signing import Envelope
from services.contracts.text import NulFreeStr

MAX_BUNDLE_WORKS = 1_000
"""A bundle's works; a lab wanting more buys several bundles."""
MAX_AMOUNT_MINOR = MAX_PRICE_MINOR * MAX_BUNDLE_WORKS

LICENCE_CERTIFICATE_TYPE = "application/vnd.assent.licence-certificate+json"
"""The DSSE payload type of a licence certificate."""

Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
IdempotencyKey = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")
]
Reference = Annotated[
    NulFreeStr, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
]


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)


# --- bundles ---


class BundleCreate(Schema):
    """Exactly one of `work_ids` or `search`; a search is resolved into works at creation."""

    name: NulFreeStr = Field(min_length=1, max_length=200)
    uses: list[Use] = Field(min_length=1, description="what the buyer will do with the works")
    currency: Currency = "EUR"
    work_ids: list[UUID] | None = Field(default=None, min_length=1, max_length=MAX_BUNDLE_WORKS)
    search: WorkSearch | None = None

    @model_validator(mode="after")
    def _one_source(self) -> "BundleCreate":
        if (self.work_ids is None) == (self.search is None):
            raise ValueError("give either work_ids or search, not both or neither")
        return self


class BundleSource(StrEnum):
    WORKS = "works"
    SEARCH = "search"


class BundleRead(Schema):
    id: UUID
    buyer_id: UUID
    name: str
    uses: list[Use]
    currency: str
    source: BundleSource
    search: WorkSearch | None = Field(description="the saved search, when made from one")
    work_ids: list[UUID]
    created_at: datetime


class BundlePage(Schema):
    items: list[BundleRead]
    next_cursor: str | None


# --- quotes ---


class ExclusionReason(StrEnum):
    NOT_FOUND = "not_found"
    WITHDRAWN = "withdrawn"
    NO_CONSENT = "no_consent"
    """No consent in force, or the consent does not cover the bundle's uses."""
    NOT_LISTED = "not_listed"
    """Not offered right now: no verified file yet, or held for review."""
    NO_OFFER = "no_offer"
    USES_NOT_OFFERED = "uses_not_offered"
    CURRENCY = "currency"
    """Offered in another currency than the bundle's."""


class ShareLine(Schema):
    creator_id: UUID
    creator_name: str
    basis_points: int


class QuoteLine(Schema):
    work_id: UUID
    version_id: UUID
    title: str
    media_type: MediaType
    file_name: str
    size: int
    sha256: str
    offer_id: UUID
    terms_id: str
    terms: Terms
    price_minor: int
    platform_fee_minor: int
    shares: list[ShareLine]


class QuoteExclusion(Schema):
    work_id: UUID
    reason: ExclusionReason
    detail: str


class QuoteStatus(StrEnum):
    OPEN = "open"
    PURCHASED = "purchased"
    EXPIRED = "expired"


class QuoteIn(Schema):
    bundle_id: UUID


class QuoteRead(Schema):
    """Never changes once issued: later price changes make new offers, not new quotes."""

    id: UUID
    bundle_id: UUID
    buyer_id: UUID
    currency: str
    uses: list[Use]
    lines: list[QuoteLine]
    excluded: list[QuoteExclusion]
    subtotal_minor: int
    platform_fee_minor: int
    total_minor: int = Field(description="what the buyer pays (the fee is inside it)")
    platform_fee_bps: int
    status: QuoteStatus
    created_at: datetime
    expires_at: datetime


# --- purchases and licences ---


class PurchaseIn(Schema):
    quote_id: UUID
    idempotency_key: IdempotencyKey


class LicenceStatus(StrEnum):
    ACTIVE = "active"
    REFUNDED = "refunded"
    """Refunded by an admin: revoked, every entry reversed."""


class LicenceLineStatus(StrEnum):
    ACTIVE = "active"
    EXCLUDED = "excluded"
    """Not sold: its work was no longer for sale for the licence's uses when the purchase
    committed (never charged); or sold, then left out of the delivery and refunded."""
    REFUNDED = "refunded"


class LicenceLineRead(Schema):
    work_id: UUID
    version_id: UUID
    title: str
    media_type: MediaType
    file_name: str
    size: int
    sha256: str
    attribution: str = Field(description="the co-creators' names, as the licence credits them")
    terms_id: str
    terms: Terms
    price_minor: int
    starts_at: datetime
    ends_at: datetime
    status: LicenceLineStatus
    excluded_reason: str | None


class LicenceRead(Schema):
    id: UUID
    buyer_id: UUID
    buyer_name: str = Field(description="the buyer organisation")
    bundle_id: UUID
    quote_id: UUID
    uses: list[Use]
    currency: str
    total_minor: int
    platform_fee_minor: int
    refunded_minor: int = Field(description="refunded so far: excluded lines, or all of it")
    status: LicenceStatus
    granted_at: datetime
    starts_at: datetime
    ends_at: datetime = Field(description="the latest end of its lines")
    refunded_at: datetime | None
    lines: list[LicenceLineRead]


class PurchaseRead(Schema):
    licence: LicenceRead
    replayed: bool = Field(description="true when this idempotency key had already bought it")


class LicencePage(Schema):
    items: list[LicenceRead]
    next_cursor: str | None


class RefundIn(Schema):
    reason: NulFreeStr = Field(min_length=1, max_length=2_000)


# --- money ---


class MoneyIn(Schema):
    amount_minor: int = Field(gt=0, le=MAX_AMOUNT_MINOR)
    currency: Currency
    reference: Reference


class TopUpIn(MoneyIn):
    """An admin records money received from a buyer (a bank transfer, an invoice paid).

    The reference is the payment's own (a bank transfer's): a top-up under a reference
    already recorded answers that record and credits nothing more."""

    buyer_id: UUID
    buyer_roles: list[Role] | None = Field(
        default=None,
        max_length=len(Role),
        description="The roles the accounts' owner (the gateway) found the buyer's account "
        "to hold when it forwarded this call; None when it did not look. Licensing hears "
        "of new accounts through the outbox, a moment later; honoured from the gateway only.",
    )


class PayoutIn(MoneyIn):
    """An admin records money paid out to a creator, with the payment's reference; a
    payout under a reference already recorded answers that record and pays nothing more."""

    creator_id: UUID


class LedgerAccountKind(StrEnum):
    BUYER_BALANCE = "buyer_balance"
    CREATOR_PAYABLE = "creator_payable"
    PLATFORM_REVENUE = "platform_revenue"
    PAYOUTS = "payouts"
    """Money that has left the marketplace to creators."""
    FUNDING = "funding"
    """Money that has entered the marketplace from buyers."""


class TransactionKind(StrEnum):
    TOP_UP = "top_up"
    SALE = "sale"
    REFUND = "refund"
    PAYOUT = "payout"


class PostingRead(Schema):
    account_kind: LedgerAccountKind
    owner_id: UUID | None
    amount_minor: int = Field(description="signed; a transaction's postings sum to zero")
    work_id: UUID | None


class TransactionRead(Schema):
    id: UUID
    kind: TransactionKind
    currency: str
    licence_id: UUID | None
    reference: str | None
    recorded_by: UUID
    recorded_at: datetime
    postings: list[PostingRead]


class BalanceRead(Schema):
    owner_id: UUID
    account_kind: LedgerAccountKind
    currency: str
    balance_minor: int


# --- creators' earnings ---


class Period(StrEnum):
    DAY = "day"
    MONTH = "month"


class EarningsQuery(Schema):
    creator_id: UUID | None = Field(default=None, description="admins: whose; creators: their own")
    currency: Currency | None = None
    period: Period = Period.MONTH
    since: datetime | None = None
    until: datetime | None = None


class EarningLine(Schema):
    """One creator's share of one work in one licence (negative once refunded)."""

    licence_id: UUID
    work_id: UUID
    title: str
    buyer_id: UUID
    buyer_name: str
    uses: list[Use]
    basis_points: int
    amount_minor: int
    currency: str
    kind: TransactionKind
    recorded_at: datetime


class WorkEarnings(Schema):
    work_id: UUID
    title: str
    currency: str
    amount_minor: int
    licences: int


class PeriodEarnings(Schema):
    period_start: datetime
    currency: str
    amount_minor: int


class PayoutRead(Schema):
    transaction_id: UUID
    creator_id: UUID
    amount_minor: int
    currency: str
    reference: str
    recorded_at: datetime


class EarningsRead(Schema):
    creator_id: UUID
    lines: list[EarningLine] = Field(max_length=MAX_PAGE_SIZE * 10)
    by_work: list[WorkEarnings]
    by_period: list[PeriodEarnings]
    payouts: list[PayoutRead]
    balances: list[BalanceRead] = Field(description="owed to the creator now, per currency")


# --- certificates ---


class CertificateLine(Schema):
    work_id: UUID
    version_id: UUID
    sha256: str
    terms_id: str
    starts_at: datetime
    ends_at: datetime


class LicenceCertificate(Schema):
    """What a buyer shows a third party: who may use which works, how, and until when."""

    licence_id: UUID
    buyer_id: UUID
    buyer_name: str
    uses: list[Use]
    granted_at: datetime
    status: LicenceStatus
    issued_at: datetime
    lines: list[CertificateLine]


class CertificateRead(Schema):
    certificate: LicenceCertificate
    envelope: Envelope


# --- events ---


class LicenceGranted(Schema):
    licence_id: UUID
    buyer_id: UUID
    buyer_name: str
    bundle_id: UUID
    quote_id: UUID
    uses: list[Use]
    currency: str
    total_minor: int
    granted_at: datetime
    lines: list[LicenceLineRead]


class LedgerRecorded(Schema):
    """A ledger transaction: a sale carries the royalty split in its postings."""

    transaction: TransactionRead


class LicenceRefunded(Schema):
    licence_id: UUID
    buyer_id: UUID
    refunded_by: UUID
    reason: str
    refunded_at: datetime
    amount_minor: int
    currency: str


class SaleScopeRecorded(Schema):
    """Licensing has recorded which uses of a work it may sell from now on, after a
    catalogue event (a withdrawal; a consent withdrawn, revised or given again). Every sale
    of the work commits either before or after this record, never across it, and the
    audit log holds both in that order: a line sold before a withdrawal is delivered on its
    terms, and no sale is made after it."""

    work_id: UUID
    open_uses: list[Use]
    """Empty when the work is not for sale at all."""
    cause_event_id: UUID
    cause_topic: str
    recorded_at: datetime


class LedgerCheck(Schema):
    """The ledger's invariants, for operators and auditors: all lists empty when sound."""

    transactions: int
    unbalanced_transactions: list[UUID] = Field(description="postings not summing to zero")
    mixed_currency_transactions: list[UUID]
    balance_mismatches: list[str] = Field(
        description="accounts whose stored balance differs from the sum of their postings"
    )
    negative_buyer_balances: list[UUID]
    totals: dict[str, int] = Field(description="sum of every posting per currency (zero)")
