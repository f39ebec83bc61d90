"""Random sequences of top-ups, purchases, refunds and payouts never break the ledger."""

import uuid
from dataclasses import dataclass, field

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.delivery import DeliveryExclusion, DeliveryIssued, DeliveryStatus
from services.contracts.licensing import LedgerAccountKind, PayoutIn, PurchaseIn, RefundIn
from services.contracts.roles import Role
from services.kit.db import utcnow
from services.kit.errors import Conflict
from services.kit.internal_token import Caller
from services.licensing.models import LedgerAccount, LedgerPosting, LedgerTransaction
from tests.services.licensing.helpers import ADMIN, SERVICES, make_quote, quote_line, top_up

CURRENCIES = ("EUR", "JPY")
SHARES = (
    ((0, 10_000),),
    ((0, 3333), (1, 3333), (2, 3334)),
    ((1, 7000), (2, 3000)),
)


@dataclass(frozen=True)
class TopUp:
    buyer: int
    amount: int
    currency: str


@dataclass(frozen=True)
class Purchase:
    buyer: int
    prices: tuple[int, ...]
    shares: int
    currency: str
    key: int


@dataclass(frozen=True)
class Replay:
    licence: int


@dataclass(frozen=True)
class Refund:
    licence: int


@dataclass(frozen=True)
class Exclude:
    licence: int
    line: int


@dataclass(frozen=True)
class Payout:
    creator: int
    amount: int
    currency: str


Operation = TopUp | Purchase | Replay | Refund | Exclude | Payout

currencies = st.sampled_from(CURRENCIES)
operations = st.lists(
    st.one_of(
        st.builds(TopUp, st.integers(0, 1), st.integers(1, 20_000), currencies),
        st.builds(
            Purchase,
            st.integers(0, 1),
            st.lists(st.integers(1, 3000), min_size=1, max_size=3).map(tuple),
            st.integers(0, len(SHARES) - 1),
            currencies,
            st.integers(0, 3),
        ),
        st.builds(Replay, st.integers(0, 5)),
        st.builds(Refund, st.integers(0, 5)),
        st.builds(Exclude, st.integers(0, 5), st.integers(0, 2)),
        st.builds(Payout, st.integers(0, 2), st.integers(1, 200), currencies),
    ),
    min_size=1,
    max_size=12,
)

# Most purchases then find money to spend; a zero leaves that buyer short in that currency.
opening_balances = st.tuples(
    *(
        st.builds(TopUp, st.just(buyer), st.integers(0, 20_000), st.just(currency))
        for buyer in (0, 1)
        for currency in CURRENCIES
    )
).map(lambda top_ups: [top_up for top_up in top_ups if top_up.amount > 0])


@dataclass
class World:
    buyers: list[Caller] = field(default_factory=list)
    creators: list[uuid.UUID] = field(default_factory=list)
    licences: list[uuid.UUID] = field(default_factory=list)
    purchases: dict[uuid.UUID, PurchaseIn] = field(default_factory=dict)
    topped_up: dict[str, int] = field(default_factory=dict)
    paid_out: dict[str, int] = field(default_factory=dict)


async def _apply(session: AsyncSession, world: World, operation: Operation) -> None:
    if isinstance(operation, TopUp):
        buyer_id = uuid.UUID(world.buyers[operation.buyer].subject)
        await top_up(session, buyer_id, operation.amount, operation.currency)
        world.topped_up[operation.currency] = (
            world.topped_up.get(operation.currency, 0) + operation.amount
        )
    elif isinstance(operation, Purchase):
        buyer = world.buyers[operation.buyer]
        shares = [(world.creators[index], bps) for index, bps in SHARES[operation.shares]]
        quote_id = await make_quote(
            session,
            uuid.UUID(buyer.subject),
            [quote_line(price, shares) for price in operation.prices],
            currency=operation.currency,
        )
        purchase = PurchaseIn(quote_id=quote_id, idempotency_key=f"key-{operation.key}")
        bought = await SERVICES.licences.purchase(session, buyer, purchase)
        world.licences.append(bought.licence.id)
        world.purchases[bought.licence.id] = purchase
    elif isinstance(operation, Replay) and world.licences:
        licence = await SERVICES.licences.get(
            session, ADMIN, world.licences[operation.licence % len(world.licences)]
        )
        buyer = next(b for b in world.buyers if b.subject == str(licence.buyer_id))
        replayed = await SERVICES.licences.purchase(session, buyer, world.purchases[licence.id])
        assert replayed.replayed
        assert replayed.licence.id == licence.id
    elif isinstance(operation, Refund) and world.licences:
        licence_id = world.licences[operation.licence % len(world.licences)]
        await SERVICES.licences.refund(session, ADMIN, licence_id, RefundIn(reason="property"))
    elif isinstance(operation, Exclude) and world.licences:
        licence = await SERVICES.licences.get(
            session, ADMIN, world.licences[operation.licence % len(world.licences)]
        )
        line = licence.lines[operation.line % len(licence.lines)]
        await SERVICES.licences.refund_undelivered(
            session,
            DeliveryIssued(
                delivery_id=uuid.uuid4(),
                licence_id=licence.id,
                buyer_id=licence.buyer_id,
                status=DeliveryStatus.ISSUED,
                issued_at=utcnow(),
                manifest_key=None,
                manifest_sha256=None,
                key_id="k",
                entry_count=0,
                excluded=[DeliveryExclusion(work_id=line.work_id, reason="withdrawn", detail="")],
                watermark_commitment="0" * 64,
            ),
        )
    elif isinstance(operation, Payout):
        await SERVICES.payments.payout(
            session,
            ADMIN,
            PayoutIn(
                creator_id=world.creators[operation.creator],
                amount_minor=operation.amount,
                currency=operation.currency,
                reference=f"payout {uuid.uuid4()}",
            ),
        )
        world.paid_out[operation.currency] = (
            world.paid_out.get(operation.currency, 0) + operation.amount
        )


async def _sum_by_kind(session: AsyncSession) -> dict[tuple[str, str], int]:
    statement = (
        select(LedgerAccount.kind, LedgerAccount.currency, func.sum(LedgerPosting.amount_minor))
        .join(LedgerPosting, LedgerPosting.account_id == LedgerAccount.id)
        .group_by(LedgerAccount.kind, LedgerAccount.currency)
    )
    return {
        (kind, currency): int(amount) for kind, currency, amount in await session.execute(statement)
    }


async def _licence_nets(session: AsyncSession, licence_id: uuid.UUID) -> set[int]:
    """Each account's net over a licence's sale and refunds."""
    statement = (
        select(func.sum(LedgerPosting.amount_minor))
        .join(LedgerTransaction, LedgerTransaction.id == LedgerPosting.transaction_id)
        .where(LedgerTransaction.licence_id == licence_id)
        .group_by(LedgerPosting.account_id)
    )
    return {int(amount) for amount in await session.scalars(statement)}


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(opening=opening_balances, operations=operations)
async def test_the_ledger_stays_balanced_and_conserves_money(
    session: AsyncSession, opening: list[TopUp], operations: list[Operation]
) -> None:
    world = World(
        buyers=[
            Caller(
                subject=str(uuid.uuid4()),
                roles=frozenset({Role.BUYER}),
                issuer="t",
                name=f"Buyer {n}",
            )
            for n in range(2)
        ],
        creators=[uuid.uuid4() for _ in range(3)],
    )
    # Each example on an empty ledger: its writes are undone when it ends.
    example = await session.begin_nested()
    try:
        for operation in [*opening, *operations]:
            # Each operation as one request: a refusal undoes only its own writes.
            attempt = await session.begin_nested()
            try:
                await _apply(session, world, operation)
            except Conflict as refused:
                event(f"{type(operation).__name__}: {refused.name}")
                await attempt.rollback()
            else:
                event(f"{type(operation).__name__}: done")
                await attempt.commit()

        check = await SERVICES.ledger.check(session)
        assert check.unbalanced_transactions == []
        assert check.mixed_currency_transactions == []
        assert check.balance_mismatches == []
        assert check.negative_buyer_balances == []
        assert set(check.totals.values()) <= {0}
        sums = await _sum_by_kind(session)
        for currency in CURRENCIES:
            funded = world.topped_up.get(currency, 0)
            assert sums.get((LedgerAccountKind.FUNDING, currency), 0) == -funded
            assert sums.get((LedgerAccountKind.PAYOUTS, currency), 0) == world.paid_out.get(
                currency, 0
            )
            held = sum(
                sums.get((kind, currency), 0)
                for kind in (
                    LedgerAccountKind.BUYER_BALANCE,
                    LedgerAccountKind.CREATOR_PAYABLE,
                    LedgerAccountKind.PLATFORM_REVENUE,
                    LedgerAccountKind.PAYOUTS,
                )
            )
            assert held == funded
        for licence_id in world.licences:
            licence = await SERVICES.licences.get(session, ADMIN, licence_id)
            if licence.status == "refunded":
                assert await _licence_nets(session, licence_id) <= {0}
                assert licence.refunded_minor == licence.total_minor
    finally:
        await example.rollback()
