"""A creator's statement line reaches GraphQL with its net, each co-creator's part, and a
refund's reason as a sentence a creator reads beside it."""

import uuid

from gateway.types.licensing import Earnings
from services.contracts.catalogue import Use
from services.contracts.licensing import (
    CoCreatorNet,
    EarningLine,
    EarningsRead,
    RefundReason,
    TransactionKind,
)
from services.kit.db import utcnow

INES, OMAR = uuid.uuid4(), uuid.uuid4()


def _line(reason: RefundReason | None, note: str | None = None) -> EarningLine:
    refund = reason is not None
    sign = -1 if refund else 1
    return EarningLine(
        licence_id=uuid.uuid4(),
        work_id=uuid.uuid4(),
        title="Tide",
        buyer_id=uuid.uuid4(),
        buyer_name="Lab",
        uses=[Use.TRAINING],
        basis_points=6000,
        price_minor=333,
        platform_fee_minor=49,
        amount_minor=sign * 170,
        currency="EUR",
        kind=TransactionKind.REFUND if refund else TransactionKind.SALE,
        recorded_at=utcnow(),
        net_minor=284,
        co_creators=[
            CoCreatorNet(
                creator_id=INES, creator_name="Ines", basis_points=6000, amount_minor=sign * 170
            ),
            CoCreatorNet(
                creator_id=OMAR, creator_name="Omar", basis_points=4000, amount_minor=sign * 114
            ),
        ],
        refund_reason=reason,
        refund_note=note,
    )


def _earnings(*lines: EarningLine) -> Earnings:
    return Earnings.of(
        EarningsRead(
            creator_id=INES, lines=list(lines), by_work=[], by_period=[], payouts=[], balances=[]
        )
    )


def test_a_sale_shows_its_net_and_each_co_creators_part_and_no_reason() -> None:
    [line] = _earnings(_line(None)).lines

    assert (int(line.net.amount_minor), line.net.currency) == (284, "EUR")
    assert [
        (c.creator_name, c.basis_points, int(c.amount.amount_minor)) for c in line.co_creators
    ] == [
        ("Ines", 6000, 170),
        ("Omar", 4000, 114),
    ]
    assert (line.refund_reason, line.refund_explanation) == (None, None)


def test_each_refund_says_why_in_a_sentence() -> None:
    withdrawn, undeliverable, admin, bare = _earnings(
        _line(RefundReason.WITHDRAWN_BEFORE_DELIVERY),
        _line(RefundReason.UNDELIVERABLE),
        _line(RefundReason.REFUNDED_BY_MARKETPLACE, "the buyer asked within 14 days"),
        _line(RefundReason.REFUNDED_BY_MARKETPLACE),
    ).lines

    assert withdrawn.refund_explanation == (
        "The work was withdrawn before this sale was delivered, so the buyer was refunded."
    )
    assert undeliverable.refund_explanation == (
        "The work's file could not be delivered to the buyer, so the buyer was refunded."
    )
    assert admin.refund_explanation == (
        "The marketplace refunded the buyer: the buyer asked within 14 days"
    )
    assert bare.refund_explanation == "The marketplace refunded the buyer."
    assert [int(c.amount.amount_minor) for c in admin.co_creators] == [-170, -114]
