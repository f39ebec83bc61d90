"""A creator's earnings: their share of each sale, by work and by period, and payouts."""

from datetime import datetime
from typing import Annotated

import strawberry

from gateway.types.catalogue import Money, Use
from gateway.types.errors import Forbidden, Refusals, ValidationFailed
from gateway.types.licensing._common import RefundReason, TransactionKind, money
from services.contracts import licensing as contract

# What a creator reads beside a refunded line, by its reason.
REFUND_WORDS = {
    RefundReason.WITHDRAWN_BEFORE_DELIVERY: "The work was withdrawn before this sale was "
    "delivered, so the buyer was refunded.",
    RefundReason.UNDELIVERABLE: "The work's file could not be delivered to the buyer, so "
    "the buyer was refunded.",
    RefundReason.REFUNDED_BY_MARKETPLACE: "The marketplace refunded the buyer.",
}


def refund_explanation(reason: RefundReason | None, note: str | None) -> str | None:
    if reason is None:
        return None
    words = REFUND_WORDS[reason]
    return f"{words[:-1]}: {note}" if note else words


@strawberry.type
class CoCreatorNet:
    creator_id: strawberry.ID
    creator_name: str
    basis_points: int
    amount: Money = strawberry.field(description="Their part of the net; negative for a refund.")


@strawberry.type
class EarningLine:
    licence_id: strawberry.ID
    work_id: strawberry.ID
    title: str
    buyer_id: strawberry.ID
    buyer_name: str
    uses: list[Use]
    basis_points: int
    price: Money = strawberry.field(description="The line's price, as sold.")
    platform_fee: Money = strawberry.field(description="The platform's fee out of that price.")
    amount: Money = strawberry.field(description="Your share; negative for a refund.")
    kind: TransactionKind
    recorded_at: datetime
    net: Money = strawberry.field(
        description="The price less the platform's fee: what the co-creators share."
    )
    co_creators: list[CoCreatorNet] = strawberry.field(
        description="Each co-creator's part of the net, as the sale split it."
    )
    refund_reason: RefundReason | None = strawberry.field(
        description="Why a refund line was refunded; null for a sale."
    )
    refund_explanation: str | None = strawberry.field(
        description="The same in a plain sentence, with the marketplace's note if any."
    )


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
    opening: list[Money] = strawberry.field(
        description="Owed when the period opened (`since`); empty without one."
    )
    closing: list[Money] = strawberry.field(
        description="Owed when it closed (`until`, or now): the opening, plus the shares and "
        "reversals, less the payouts, of the period."
    )

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
                    price=money(line.price_minor, line.currency),
                    platform_fee=money(line.platform_fee_minor, line.currency),
                    amount=money(line.amount_minor, line.currency),
                    kind=line.kind,
                    recorded_at=line.recorded_at,
                    net=money(line.net_minor, line.currency),
                    co_creators=[
                        CoCreatorNet(
                            creator_id=strawberry.ID(str(c.creator_id)),
                            creator_name=c.creator_name,
                            basis_points=c.basis_points,
                            amount=money(c.amount_minor, line.currency),
                        )
                        for c in line.co_creators
                    ],
                    refund_reason=line.refund_reason,
                    refund_explanation=refund_explanation(line.refund_reason, line.refund_note),
                )
                for line in earnings.lines
            ],
            by_work=[
                WorkEarnings(
                    work_id=strawberry.ID(str(w.work_id)),
                    title=w.title,
                    amount=money(w.amount_minor, w.currency),
                    licences=w.licences,
                )
                for w in earnings.by_work
            ],
            by_period=[
                PeriodEarnings(
                    period_start=p.period_start, amount=money(p.amount_minor, p.currency)
                )
                for p in earnings.by_period
            ],
            payouts=[
                Payout(
                    transaction_id=strawberry.ID(str(p.transaction_id)),
                    amount=money(p.amount_minor, p.currency),
                    reference=p.reference,
                    recorded_at=p.recorded_at,
                )
                for p in earnings.payouts
            ],
            owed=[money(b.balance_minor, b.currency) for b in earnings.balances],
            opening=[money(b.amount_minor, b.currency) for b in earnings.opening],
            closing=[money(b.amount_minor, b.currency) for b in earnings.closing],
        )


EarningsResult = Annotated[
    Earnings | ValidationFailed | Forbidden | Refusals, strawberry.union("EarningsResult")
]
