"""Creators' earnings: what their works earned per period, and what was paid out."""

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import Field

from services.contracts.catalogue import MAX_PAGE_SIZE, Use
from services.contracts.licensing._base import Currency, Schema
from services.contracts.licensing._ledger import BalanceRead, TransactionKind


class Period(StrEnum):
    DAY = "day"
    MONTH = "month"


class EarningsQuery(Schema):
    creator_id: UUID | None = Field(default=None, description="admins: whose; creators: their own")
    currency: Currency | None = None
    period: Period = Period.MONTH
    since: datetime | None = None
    until: datetime | None = None


class RefundReason(StrEnum):
    """Why a sold line was refunded, for the creator's statement."""

    WITHDRAWN_BEFORE_DELIVERY = "withdrawn_before_delivery"
    """The work left sale before this sale's delivery was built."""
    UNDELIVERABLE = "undeliverable"
    """Delivery could not include the work (its file gone, say)."""
    REFUNDED_BY_MARKETPLACE = "refunded_by_marketplace"
    """An admin refunded the licence, at the buyer's request or otherwise; see the note."""


class CoCreatorNet(Schema):
    """One co-creator's part of a line's price after the platform's fee."""

    creator_id: UUID
    creator_name: str
    basis_points: int
    amount_minor: int = Field(description="negative for a refund")


class EarningLine(Schema):
    """One creator's share of one work in one licence (negative once refunded)."""

    licence_id: UUID
    work_id: UUID
    title: str
    buyer_id: UUID
    buyer_name: str
    uses: list[Use]
    basis_points: int
    price_minor: int = Field(description="the line's price, as sold")
    platform_fee_minor: int = Field(description="the platform's fee taken out of that price")
    amount_minor: int
    currency: str
    kind: TransactionKind
    recorded_at: datetime
    net_minor: int = Field(
        default=0, description="the price less the platform's fee: what the co-creators share"
    )
    co_creators: list[CoCreatorNet] = Field(
        default_factory=list, description="each co-creator's part of the net, as split"
    )
    refund_reason: RefundReason | None = None
    refund_note: str | None = Field(default=None, description="the admin's words, if any")


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


class StatementBalance(Schema):
    currency: str
    amount_minor: int


class EarningsRead(Schema):
    creator_id: UUID
    lines: list[EarningLine] = Field(max_length=MAX_PAGE_SIZE * 10)
    by_work: list[WorkEarnings]
    by_period: list[PeriodEarnings]
    payouts: list[PayoutRead]
    balances: list[BalanceRead] = Field(description="owed to the creator now, per currency")
    opening: list[StatementBalance] = Field(
        default_factory=list,
        description="owed to the creator when the period opens (`since`), per currency",
    )
    closing: list[StatementBalance] = Field(
        default_factory=list,
        description="owed when it closes (`until`, or now): the opening, plus the shares "
        "and reversals, less the payouts, of the period",
    )
