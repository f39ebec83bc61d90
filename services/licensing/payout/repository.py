"""The payout tables' queries: the creators a run decides on next, the accounts in force
when it started, and its payments."""

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from services.contracts.licensing import LedgerAccountKind, PaymentState, PayoutRunState
from services.licensing.models import LedgerAccount, LedgerPosting
from services.licensing.payout.models import PayoutAccount, PayoutFile, PayoutPayment, PayoutRun


@dataclass(frozen=True, slots=True)
class Owed:
    creator_id: uuid.UUID
    amount_minor: int


class PayoutRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def running(self, currency: str) -> PayoutRun | None:
        return await self.session.scalar(
            select(PayoutRun).where(
                PayoutRun.currency == currency, PayoutRun.state == PayoutRunState.RUNNING
            )
        )

    async def next_running(self) -> PayoutRun | None:
        """The oldest running run, locked: one worker steps it at a time."""
        return await self.session.scalar(
            select(PayoutRun)
            .where(PayoutRun.state == PayoutRunState.RUNNING)
            .order_by(PayoutRun.started_at)
            .limit(1)
            .with_for_update(skip_locked=True)
        )

    async def latest_started(self) -> datetime | None:
        return await self.session.scalar(select(func.max(PayoutRun.started_at)))

    async def owed_after(
        self, currency: str, after: uuid.UUID | None, limit: int
    ) -> tuple[list[Owed], uuid.UUID | None]:
        """The next `limit` creators with a payable account in `currency`, in creator
        order after `after`, their accounts locked (a manual payout waits), with what each
        is owed; and the last creator looked at (None when there were none)."""
        accounts = (
            select(LedgerAccount.id, LedgerAccount.owner_id)
            .where(
                LedgerAccount.kind == LedgerAccountKind.CREATOR_PAYABLE,
                LedgerAccount.currency == currency,
            )
            .order_by(LedgerAccount.owner_id)
            .limit(limit)
            .with_for_update()
        )
        if after is not None:
            accounts = accounts.where(LedgerAccount.owner_id > after)
        rows = (await self.session.execute(accounts)).all()
        if not rows:
            return [], None
        owners = {account_id: owner_id for account_id, owner_id in rows}
        sums = await self.session.execute(
            select(LedgerPosting.account_id, func.sum(LedgerPosting.amount_minor))
            .where(LedgerPosting.account_id.in_(owners))
            .group_by(LedgerPosting.account_id)
        )
        balance = {account_id: int(amount) for account_id, amount in sums}
        owed = [
            Owed(owner_id, balance.get(account_id, 0))
            for account_id, owner_id in rows
            if owner_id is not None
        ]
        return owed, rows[-1][1]

    async def accounts_in_force(
        self, creator_ids: Collection[uuid.UUID], at: datetime
    ) -> dict[uuid.UUID, PayoutAccount]:
        """Each creator's account confirmed before `at` and not yet replaced then."""
        found = await self.session.scalars(
            select(PayoutAccount)
            .where(
                PayoutAccount.creator_id.in_(creator_ids),
                PayoutAccount.confirmed_at <= at,
                or_(PayoutAccount.superseded_at.is_(None), PayoutAccount.superseded_at > at),
            )
            .order_by(PayoutAccount.confirmed_at)
        )
        return {account.creator_id: account for account in found}

    async def payments_after(
        self, run_id: uuid.UUID, after: str | None, limit: int
    ) -> list[PayoutPayment]:
        statement = select(PayoutPayment).where(PayoutPayment.run_id == run_id)
        if after is not None:
            statement = statement.where(PayoutPayment.end_to_end_id > after)
        return list(
            await self.session.scalars(statement.order_by(PayoutPayment.end_to_end_id).limit(limit))
        )

    async def files(self, run_id: uuid.UUID) -> list[PayoutFile]:
        # Without the documents: a run's listing never reads megabytes of XML.
        return list(
            await self.session.scalars(
                select(PayoutFile)
                .options(defer(PayoutFile.xml))
                .where(PayoutFile.run_id == run_id)
                .order_by(PayoutFile.sequence)
            )
        )

    async def payments_by_end_to_end(self, ids: Collection[str]) -> dict[str, PayoutPayment]:
        found = await self.session.scalars(
            select(PayoutPayment).where(PayoutPayment.end_to_end_id.in_(ids)).with_for_update()
        )
        return {payment.end_to_end_id: payment for payment in found}

    async def payments_of(
        self, creator_id: uuid.UUID | None, state: PaymentState | None, limit: int
    ) -> list[PayoutPayment]:
        statement = (
            select(PayoutPayment)
            .join(PayoutRun)
            .order_by(PayoutRun.started_at.desc(), PayoutPayment.end_to_end_id)
        )
        if creator_id is not None:
            statement = statement.where(PayoutPayment.creator_id == creator_id)
        if state is not None:
            statement = statement.where(PayoutPayment.state == state)
        return list(await self.session.scalars(statement.limit(limit)))
