"""Creators' statements: every share of every sale, by work and period, and payouts."""

import uuid
from datetime import UTC, datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.contracts.catalogue import (
    BASIS_POINTS_WHOLE,
    Use,
)
from services.contracts.licensing import (
    BalanceRead,
    CoCreatorNet,
    EarningLine,
    EarningsQuery,
    EarningsRead,
    ExclusionReason,
    LedgerAccountKind,
    LicenceLineStatus,
    PayoutRead,
    Period,
    PeriodEarnings,
    RefundReason,
    StatementBalance,
    TransactionKind,
    WorkEarnings,
)
from services.contracts.roles import Role
from services.kit.errors import FieldError, Forbidden, InvalidRequest
from services.kit.internal_token import Caller
from services.licensing.earnings.repository import (
    EarningRow,
    EarningsFilter,
    EarningsRepository,
)
from services.licensing.ledger.repository import LedgerRepository
from services.licensing.ledger.royalties import Share, split
from services.licensing.rules import (
    aware,
    check_currency,
)

log = structlog.get_logger()

MAX_EARNING_LINES = 1_000
"""A statement lists the newest lines; its totals always cover every line."""


def _co_creators(row: EarningRow) -> list[CoCreatorNet]:
    """Each co-creator's part of the line's net, split as the sale split it (a refund
    reverses each part exactly)."""
    shares = [Share(uuid.UUID(s["creator_id"]), int(s["basis_points"])) for s in row.shares]
    if sum(share.basis_points for share in shares) != BASIS_POINTS_WHOLE:
        return []  # a line sold without recorded shares
    names = {s["creator_id"]: str(s.get("creator_name", "")) for s in row.shares}
    sign = -1 if row.kind == TransactionKind.REFUND else 1
    return [
        CoCreatorNet(
            creator_id=royalty.creator_id,
            creator_name=names[str(royalty.creator_id)],
            basis_points=royalty.basis_points,
            amount_minor=sign * royalty.amount_minor,
        )
        for royalty in split(row.price_minor - row.platform_fee_minor, shares)
    ]


def _refund_reason(row: EarningRow) -> RefundReason | None:
    """A line left out of its delivery was refunded for delivery's reason; any other
    refund was an admin's, with their note."""
    if row.kind != TransactionKind.REFUND:
        return None
    if row.line_status == LicenceLineStatus.EXCLUDED:
        if row.excluded_reason == ExclusionReason.WITHDRAWN:
            return RefundReason.WITHDRAWN_BEFORE_DELIVERY
        return RefundReason.UNDELIVERABLE
    return RefundReason.REFUNDED_BY_MARKETPLACE


def _period_start(moment: datetime, period: Period) -> datetime:
    moment = moment.astimezone(UTC)
    day = 1 if period == Period.MONTH else moment.day
    return datetime(moment.year, moment.month, day, tzinfo=UTC)


class EarningsService:
    async def statement(
        self, session: AsyncSession, caller: Caller, query: EarningsQuery
    ) -> EarningsRead:
        creator_id = self._whose(caller, query)
        if query.currency is not None:
            check_currency(query.currency)
        where = EarningsFilter(
            creator_id=creator_id,
            currency=query.currency,
            since=aware(query.since, "since"),
            until=aware(query.until, "until"),
        )
        ledger = LedgerRepository(session)
        earnings = EarningsRepository(session)
        rows = await earnings.earning_rows(where, limit=MAX_EARNING_LINES)
        periods: dict[tuple[datetime, str], int] = {}
        for moment, currency, amount in await earnings.earning_amounts(where):
            key = (_period_start(moment, query.period), currency)
            periods[key] = periods.get(key, 0) + amount
        opening = (
            await earnings.owed_before(creator_id, query.currency, where.since)
            if where.since is not None
            else {}
        )
        closing = await earnings.owed_before(creator_id, query.currency, where.until)
        currencies = sorted(set(opening) | set(closing))
        return EarningsRead(
            creator_id=creator_id,
            opening=[
                StatementBalance(currency=c, amount_minor=opening.get(c, 0)) for c in currencies
            ],
            closing=[
                StatementBalance(currency=c, amount_minor=closing.get(c, 0)) for c in currencies
            ],
            lines=[
                EarningLine(
                    licence_id=row.licence_id,
                    work_id=row.work_id,
                    title=row.title,
                    buyer_id=row.buyer_id,
                    buyer_name=row.buyer_name,
                    uses=[Use(use) for use in row.uses],
                    basis_points=next(
                        (
                            int(share["basis_points"])
                            for share in row.shares
                            if share["creator_id"] == str(creator_id)
                        ),
                        0,
                    ),
                    price_minor=row.price_minor,
                    platform_fee_minor=row.platform_fee_minor,
                    amount_minor=row.amount_minor,
                    currency=row.currency,
                    kind=row.kind,
                    recorded_at=row.recorded_at,
                    net_minor=row.price_minor - row.platform_fee_minor,
                    co_creators=_co_creators(row),
                    refund_reason=_refund_reason(row),
                    refund_note=row.refund_note
                    if _refund_reason(row) == RefundReason.REFUNDED_BY_MARKETPLACE
                    else None,
                )
                for row in rows
            ],
            by_work=[
                WorkEarnings(
                    work_id=total.work_id,
                    title=total.title,
                    currency=total.currency,
                    amount_minor=total.amount_minor,
                    licences=total.licences,
                )
                for total in await earnings.earnings_by_work(where)
            ],
            by_period=[
                PeriodEarnings(period_start=start, currency=currency, amount_minor=amount)
                for (start, currency), amount in sorted(periods.items())
            ],
            payouts=[
                PayoutRead(
                    transaction_id=payout.transaction_id,
                    creator_id=creator_id,
                    amount_minor=payout.amount_minor,
                    currency=payout.currency,
                    reference=payout.reference,
                    recorded_at=payout.recorded_at,
                )
                for payout in await earnings.payouts(where)
            ],
            balances=[
                BalanceRead(
                    owner_id=creator_id,
                    account_kind=balance.kind,
                    currency=balance.currency,
                    balance_minor=balance.balance_minor,
                )
                for balance in await ledger.balances(
                    owner_id=creator_id,
                    kinds={LedgerAccountKind.CREATOR_PAYABLE},
                    currency=query.currency,
                )
            ],
        )

    def _whose(self, caller: Caller, query: EarningsQuery) -> uuid.UUID:
        """Creators see their own earnings; admins and auditors any creator's."""
        me = caller.account_id
        if caller.has(Role.ADMIN, Role.AUDITOR):
            creator_id = query.creator_id or (me if caller.has(Role.CREATOR) else None)
            if creator_id is None:
                raise InvalidRequest(
                    "say whose earnings",
                    fields=[FieldError("creator_id", "required", "required")],
                )
            return creator_id
        if not caller.has(Role.CREATOR) or me is None:
            raise Forbidden("earnings are for creators, admins and auditors")
        if query.creator_id not in (None, me):
            raise Forbidden("a creator sees only their own earnings")
        return me


earnings_service = EarningsService()
