"""A creator's statement ties to the ledger over random histories: for any period, what
was owed when it opened, plus the shares and reversals in it, less the payouts in it, is
what was owed when it closed; and what it says is owed now is the ledger's balance."""

import asyncio
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.licensing import EarningsQuery, EarningsRead, LedgerAccountKind
from services.contracts.roles import Role
from services.kit.db import utcnow
from services.kit.errors import Conflict
from services.kit.internal_token import Caller
from services.licensing.earnings.service import earnings_service
from services.licensing.ledger.repository import LedgerRepository
from tests.services.licensing.helpers import ADMIN
from tests.services.licensing.test_property import (
    CURRENCIES,
    Operation,
    TopUp,
    World,
    _apply,
    opening_balances,
    operations,
)


def _owed(read: EarningsRead, field: str) -> dict[str, int]:
    return {b.currency: b.amount_minor for b in getattr(read, field)}


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(opening=opening_balances, history=operations, cut=st.integers(0, 12))
async def test_a_statement_ties_to_the_ledger_for_any_period(
    session: AsyncSession, opening: list[TopUp], history: list[Operation], cut: int
) -> None:
    world = World(
        buyers=[
            Caller(subject=str(uuid.uuid4()), roles=frozenset({Role.BUYER}), issuer="t", name="B")
            for _ in range(2)
        ],
        creators=[uuid.uuid4() for _ in range(3)],
    )
    example = await session.begin_nested()
    try:
        steps = [*opening, *history]
        moment = utcnow()
        for index, operation in enumerate(steps):
            if index == len(opening) + min(cut, len(history)):
                # The period's edge falls between two operations.
                await asyncio.sleep(0.001)
                moment = utcnow()
                await asyncio.sleep(0.001)
            attempt = await session.begin_nested()
            try:
                await _apply(session, world, operation)
            except Conflict:
                await attempt.rollback()
            else:
                await attempt.commit()

        for creator in world.creators:
            before = await earnings_service.statement(
                session, ADMIN, EarningsQuery(creator_id=creator, until=moment)
            )
            after = await earnings_service.statement(
                session, ADMIN, EarningsQuery(creator_id=creator, since=moment)
            )
            balances = await LedgerRepository(session).balances(
                owner_id=creator, kinds={LedgerAccountKind.CREATOR_PAYABLE}, currency=None
            )
            for currency in CURRENCIES:
                opened = _owed(after, "opening").get(currency, 0)
                closed = _owed(after, "closing").get(currency, 0)
                assert _owed(before, "closing").get(currency, 0) == opened
                earned = sum(w.amount_minor for w in after.by_work if w.currency == currency)
                paid = sum(p.amount_minor for p in after.payouts if p.currency == currency)
                assert opened + earned - paid == closed, (currency, after)
                owed_now = sum(b.balance_minor for b in balances if b.currency == currency)
                assert closed == owed_now
    finally:
        await example.rollback()
