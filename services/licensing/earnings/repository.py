"""Creators' earnings: their share of each sale, per work, and payouts."""

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVarTuple

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    distinct,
    func,
    select,
)

from services.contracts.licensing import LedgerAccountKind, TransactionKind
from services.kit.repository import Repository
from services.licensing.models import (
    LedgerAccount,
    LedgerPosting,
    LedgerTransaction,
    Licence,
    LicenceLine,
)

Columns = TypeVarTuple("Columns")

PAYOUT_KINDS = (
    TransactionKind.PAYOUT,
    TransactionKind.PAYOUT_SENT,
    # A returned transfer is a payout reversed: a negative line among the payouts.
    TransactionKind.PAYOUT_RETURNED,
)
"""What moves money out of (or back into) what a creator is owed, other than sales."""


@dataclass(frozen=True)
class EarningRow:
    licence_id: uuid.UUID
    work_id: uuid.UUID
    title: str
    shares: list[dict[str, Any]]
    buyer_id: uuid.UUID
    buyer_name: str
    uses: list[str]
    price_minor: int
    platform_fee_minor: int
    amount_minor: int
    currency: str
    kind: TransactionKind
    recorded_at: datetime
    line_status: str
    excluded_reason: str | None
    refund_note: str | None


@dataclass(frozen=True)
class WorkTotal:
    work_id: uuid.UUID
    title: str
    currency: str
    amount_minor: int
    licences: int


@dataclass(frozen=True)
class PayoutRow:
    transaction_id: uuid.UUID
    amount_minor: int
    currency: str
    reference: str
    recorded_at: datetime


@dataclass(frozen=True)
class EarningsFilter:
    creator_id: uuid.UUID
    currency: str | None
    since: datetime | None
    until: datetime | None


class EarningsRepository(Repository[LedgerAccount]):
    model = LedgerAccount

    def _creator_postings(
        self, where: EarningsFilter, kinds: Collection[TransactionKind]
    ) -> list[ColumnElement[bool]]:
        conditions = [
            LedgerAccount.kind == LedgerAccountKind.CREATOR_PAYABLE,
            LedgerAccount.owner_id == where.creator_id,
            LedgerTransaction.kind.in_(sorted(kinds)),
        ]
        if where.currency is not None:
            conditions.append(LedgerAccount.currency == where.currency)
        if where.since is not None:
            conditions.append(LedgerTransaction.recorded_at >= where.since)
        if where.until is not None:
            conditions.append(LedgerTransaction.recorded_at < where.until)
        return conditions

    def _earnings_from(self, statement: Select[*Columns]) -> Select[*Columns]:
        return (
            statement.select_from(LedgerPosting)
            .join(LedgerAccount, LedgerAccount.id == LedgerPosting.account_id)
            .join(LedgerTransaction, LedgerTransaction.id == LedgerPosting.transaction_id)
        )

    async def earning_rows(self, where: EarningsFilter, *, limit: int) -> list[EarningRow]:
        """The creator's shares of sales and refunds, newest first."""
        statement = (
            self._earnings_from(
                select(
                    LedgerTransaction.licence_id,
                    LedgerPosting.work_id,
                    LicenceLine.title,
                    LicenceLine.shares,
                    Licence.buyer_id,
                    Licence.buyer_name,
                    Licence.uses,
                    LicenceLine.price_minor,
                    LicenceLine.platform_fee_minor,
                    LedgerPosting.amount_minor,
                    LedgerAccount.currency,
                    LedgerTransaction.kind,
                    LedgerTransaction.recorded_at,
                    LicenceLine.status,
                    LicenceLine.excluded_reason,
                    Licence.refund_reason,
                )
            )
            .join(Licence, Licence.id == LedgerTransaction.licence_id)
            .join(
                LicenceLine,
                and_(
                    LicenceLine.licence_id == Licence.id,
                    LicenceLine.work_id == LedgerPosting.work_id,
                ),
            )
            .where(*self._creator_postings(where, (TransactionKind.SALE, TransactionKind.REFUND)))
            .order_by(LedgerTransaction.recorded_at.desc(), LedgerPosting.id.desc())
            .limit(limit)
        )
        return [EarningRow(*row) for row in (await self.session.execute(statement)).all()]

    async def earnings_by_work(self, where: EarningsFilter) -> list[WorkTotal]:
        sold = case((LedgerTransaction.kind == TransactionKind.SALE, LedgerTransaction.licence_id))
        statement = (
            self._earnings_from(
                select(
                    LedgerPosting.work_id,
                    func.max(LicenceLine.title),
                    LedgerAccount.currency,
                    func.sum(LedgerPosting.amount_minor),
                    func.count(distinct(sold)),
                )
            )
            .join(
                LicenceLine,
                and_(
                    LicenceLine.licence_id == LedgerTransaction.licence_id,
                    LicenceLine.work_id == LedgerPosting.work_id,
                ),
            )
            .where(*self._creator_postings(where, (TransactionKind.SALE, TransactionKind.REFUND)))
            .group_by(LedgerPosting.work_id, LedgerAccount.currency)
            .order_by(LedgerPosting.work_id, LedgerAccount.currency)
        )
        totals = []
        for work_id, title, currency, amount, licences in await self.session.execute(statement):
            assert work_id is not None  # joined to its line
            totals.append(WorkTotal(work_id, title, currency, int(amount), int(licences)))
        return totals

    async def earning_amounts(self, where: EarningsFilter) -> list[tuple[datetime, str, int]]:
        """(when, currency, amount) of every share and reversal, to bucket by period."""
        statement = self._earnings_from(
            select(
                LedgerTransaction.recorded_at, LedgerAccount.currency, LedgerPosting.amount_minor
            )
        ).where(*self._creator_postings(where, (TransactionKind.SALE, TransactionKind.REFUND)))
        return [
            (recorded_at, currency, int(amount))
            for recorded_at, currency, amount in (await self.session.execute(statement)).all()
        ]

    async def payouts(self, where: EarningsFilter) -> list[PayoutRow]:
        statement = (
            self._earnings_from(
                select(
                    LedgerTransaction.id,
                    -LedgerPosting.amount_minor,
                    LedgerAccount.currency,
                    LedgerTransaction.reference,
                    LedgerTransaction.recorded_at,
                )
            )
            .where(*self._creator_postings(where, PAYOUT_KINDS))
            .order_by(LedgerTransaction.recorded_at.desc(), LedgerTransaction.id)
        )
        return [
            PayoutRow(transaction_id, int(amount), currency, reference or "", recorded_at)
            for transaction_id, amount, currency, reference, recorded_at in (
                await self.session.execute(statement)
            ).all()
        ]

    async def owed_before(
        self, creator_id: uuid.UUID, currency: str | None, moment: datetime | None
    ) -> dict[str, int]:
        """What the creator was owed, per currency, just before `moment` (now for None):
        every posting to their payable accounts recorded earlier."""
        statement = self._earnings_from(
            select(LedgerAccount.currency, func.sum(LedgerPosting.amount_minor))
        ).where(
            LedgerAccount.kind == LedgerAccountKind.CREATOR_PAYABLE,
            LedgerAccount.owner_id == creator_id,
        )
        if currency is not None:
            statement = statement.where(LedgerAccount.currency == currency)
        if moment is not None:
            statement = statement.where(LedgerTransaction.recorded_at < moment)
        statement = statement.group_by(LedgerAccount.currency)
        return {found: int(amount) for found, amount in await self.session.execute(statement)}
