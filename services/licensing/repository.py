"""Every query of licensing, the ledger's among them (on PostgreSQL and SQLite alike)."""

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVarTuple, cast
from weakref import WeakKeyDictionary

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    Table,
    and_,
    bindparam,
    case,
    distinct,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from services.contracts.licensing import LedgerAccountKind, TransactionKind
from services.kit.db import on_commit, utcnow
from services.kit.repository import Page, Repository
from services.licensing.models import (
    AccountKey,
    Bundle,
    LedgerAccount,
    LedgerPosting,
    LedgerTransaction,
    Licence,
    LicenceLine,
    Purchase,
    Quote,
)

Columns = TypeVarTuple("Columns")

# A purchase's writes pass their rows to `execute` (one pipelined executemany for several
# rows) rather than inside the statement with `.values()`, which is compiled anew on every
# call. Its other statements are built once: building and keying one per call costs more
# than running it.
_QUOTE = cast(Table, Quote.__table__)
_ACCOUNT = cast(Table, LedgerAccount.__table__)
_MARK_PURCHASED = (
    update(_QUOTE)
    .where(_QUOTE.c.id == bindparam("quote_id"), _QUOTE.c.purchased_at.is_(None))
    .values(purchased_at=bindparam("purchased"))
    .returning(*_QUOTE.c)
)
_LOCK_BALANCE = (
    select(_ACCOUNT.c.balance_minor)
    .where(_ACCOUNT.c.id == bindparam("account_id"))
    .with_for_update()
)
_ADD_TO_BALANCE = (
    update(_ACCOUNT)
    .where(_ACCOUNT.c.id == bindparam("account_id"))
    .values(balance_minor=_ACCOUNT.c.balance_minor + bindparam("amount"))
)


def upsert_statement(session: AsyncSession) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


# By engine: the same account id may be missing from another database this process
# uses (tests run SQLite beside PostgreSQL).
_accounts_by_engine: WeakKeyDictionary[Engine, set[uuid.UUID]] = WeakKeyDictionary()


def _committed_accounts(session: AsyncSession) -> set[uuid.UUID]:
    """The ledger accounts this process has seen committed in the session's database.

    A session bound to a connection joins a transaction it does not end (a test's, rolled
    back afterwards): nothing it commits is known to last, so it remembers nothing."""
    bind = session.get_bind()
    if not isinstance(bind, Engine):
        return set()
    return _accounts_by_engine.setdefault(bind, set())


class BundleRepository(Repository[Bundle]):
    model = Bundle

    async def page_of(self, buyer_id: uuid.UUID, *, after: str | None, limit: int) -> Page[Bundle]:
        return await self.paginate(
            select(Bundle).where(Bundle.buyer_id == buyer_id),
            order_by=[Bundle.created_at, Bundle.id],
            after=after,
            limit=limit,
            descending=True,
        )


class QuoteRepository(Repository[Quote]):
    model = Quote

    async def mark_purchased(self, quote_id: uuid.UUID, at: datetime) -> Row[Any] | None:
        """Mark a quote not yet bought as bought, and return its row, locked until the
        transaction ends; None when there is no such quote or it was bought already.
        One statement where a lock and then an update were two: a purchase refused
        afterwards rolls the mark back with everything else.

        Every racer for the quote already holds a key-share lock on its row (its
        idempotency key's foreign key). The update's lock coexists with those; a racer
        that lost must not ask for a row lock on top of its own (FOR UPDATE waits for
        the other losers' key-share locks, and theirs for its own: a deadlock)."""
        marked = await self.session.execute(
            _MARK_PURCHASED, {"quote_id": quote_id, "purchased": at}
        )
        return marked.one_or_none()


class PurchaseRepository(Repository[Purchase]):
    model = Purchase

    async def claim(self, buyer_id: uuid.UUID, key: str, quote_id: uuid.UUID) -> bool:
        """Insert the key; False when it exists. A racing request with the same key waits
        here (on the unique index) until the first commits or rolls back."""
        # On the table rather than the mapped class: the same SQL without the ORM's bulk
        # insert machinery, which costs more than the statement on this hot path.
        table = cast(Table, Purchase.__table__)
        statement = (
            upsert_statement(self.session)(table)
            .on_conflict_do_nothing()
            .returning(table.c.buyer_id)
        )
        claimed = await self.session.execute(
            statement,
            {
                "buyer_id": buyer_id,
                "idempotency_key": key,
                "quote_id": quote_id,
                "created_at": utcnow(),
            },
        )
        return claimed.scalar_one_or_none() is not None

    async def find(self, buyer_id: uuid.UUID, key: str) -> Purchase | None:
        statement = select(Purchase).where(
            Purchase.buyer_id == buyer_id, Purchase.idempotency_key == key
        )
        return (await self.session.scalars(statement)).one_or_none()


class LicenceRepository(Repository[Licence]):
    model = Licence

    def _read(self) -> Select[Licence]:
        return (
            select(Licence)
            .options(selectinload(Licence.lines))
            .execution_options(populate_existing=True)
        )

    async def get_for_read(self, licence_id: uuid.UUID) -> Licence | None:
        return (await self.session.scalars(self._read().where(Licence.id == licence_id))).first()

    async def get_many_for_read(self, ids: Sequence[uuid.UUID]) -> list[Licence]:
        """The licences found, in the order of `ids`."""
        found = {
            licence.id: licence
            for licence in (await self.session.scalars(self._read().where(Licence.id.in_(ids))))
        }
        return [found[licence_id] for licence_id in ids if licence_id in found]

    async def by_quote(self, quote_id: uuid.UUID) -> Licence | None:
        return (
            await self.session.scalars(self._read().where(Licence.quote_id == quote_id))
        ).first()

    async def grant(self, licence: dict[str, Any], lines: Sequence[dict[str, Any]]) -> None:
        """Insert a licence and its lines: a statement per table, without the ORM's flush."""
        await self.session.execute(insert(cast(Table, Licence.__table__)), licence)
        await self.session.execute(insert(cast(Table, LicenceLine.__table__)), list(lines))

    async def lock(self, licence_id: uuid.UUID) -> Licence | None:
        """The licence, locked, with its lines loaded afterwards (so they are current)."""
        locked = await self.session.scalar(
            select(Licence.id).where(Licence.id == licence_id).with_for_update()
        )
        return None if locked is None else await self.get_for_read(licence_id)

    async def page(
        self, *, buyer_id: uuid.UUID | None, after: str | None, limit: int
    ) -> Page[Licence]:
        statement = self._read()
        if buyer_id is not None:
            statement = statement.where(Licence.buyer_id == buyer_id)
        return await self.paginate(
            statement,
            order_by=[Licence.granted_at, Licence.id],
            after=after,
            limit=limit,
            descending=True,
        )


@dataclass(frozen=True)
class Balance:
    kind: LedgerAccountKind
    currency: str
    balance_minor: int


@dataclass(frozen=True)
class EarningRow:
    licence_id: uuid.UUID
    work_id: uuid.UUID
    title: str
    shares: list[dict[str, Any]]
    buyer_id: uuid.UUID
    buyer_name: str
    uses: list[str]
    amount_minor: int
    currency: str
    kind: TransactionKind
    recorded_at: datetime


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


class LedgerRepository(Repository[LedgerAccount]):
    model = LedgerAccount

    async def ensure_accounts(self, keys: Collection[AccountKey]) -> None:
        """Create the accounts that do not exist yet, in id order.

        An existing account is neither locked nor written (a conflict with a committed
        row does not wait), so a sale never contends on its creators' or the platform's
        rows; the id order keeps two sales creating the same new accounts from deadlocking.
        Accounts are never deleted, so once this process has committed one to a database
        it skips the statement for it there.
        """
        known = _committed_accounts(self.session)
        keys = [key for key in keys if key.id not in known]
        if not keys:
            return
        now = utcnow()
        rows = [
            {
                "id": key.id,
                "kind": key.kind,
                "owner_id": key.owner_id,
                "currency": key.currency,
                "balance_minor": 0 if key.kind == LedgerAccountKind.BUYER_BALANCE else None,
                "created_at": now,
            }
            for key in sorted(set(keys), key=lambda key: key.id)
        ]
        table = cast(Table, LedgerAccount.__table__)
        await self.session.execute(
            upsert_statement(self.session)(table).on_conflict_do_nothing(), rows
        )
        created = {key.id for key in keys}
        on_commit(self.session, lambda: known.update(created))

    async def add_transaction(
        self, transaction: dict[str, Any], postings: Sequence[dict[str, Any]]
    ) -> None:
        """Insert a transaction and its postings: a statement per table, without the flush."""
        await self.session.execute(insert(cast(Table, LedgerTransaction.__table__)), transaction)
        await self.session.execute(insert(cast(Table, LedgerPosting.__table__)), list(postings))

    async def lock_stored_balance(self, account_id: uuid.UUID) -> int | None:
        """A buyer's stored balance, locked until the transaction ends; None: no account."""
        locked = await self.session.execute(_LOCK_BALANCE, {"account_id": account_id})
        return locked.scalar_one_or_none()

    async def lock_account(self, account_id: uuid.UUID) -> bool:
        """Lock the account row (it serialises the account's payouts); False: none exists."""
        statement = select(LedgerAccount.id).where(LedgerAccount.id == account_id).with_for_update()
        return (await self.session.scalar(statement)) is not None

    async def add_to_stored_balance(self, account_id: uuid.UUID, amount_minor: int) -> None:
        await self.session.execute(
            _ADD_TO_BALANCE, {"account_id": account_id, "amount": amount_minor}
        )

    async def posted_balance(self, account_id: uuid.UUID) -> int:
        statement = select(func.coalesce(func.sum(LedgerPosting.amount_minor), 0)).where(
            LedgerPosting.account_id == account_id
        )
        return int(await self.session.scalar(statement) or 0)

    async def licence_postings(
        self, licence_id: uuid.UUID, kind: TransactionKind
    ) -> list[LedgerPosting]:
        statement = (
            select(LedgerPosting)
            .join(LedgerTransaction, LedgerTransaction.id == LedgerPosting.transaction_id)
            .where(LedgerTransaction.licence_id == licence_id, LedgerTransaction.kind == kind)
            .options(joinedload(LedgerPosting.account))
            .order_by(LedgerPosting.id)
        )
        return list((await self.session.scalars(statement)).all())

    async def balances(
        self,
        *,
        owner_id: uuid.UUID,
        kinds: Collection[LedgerAccountKind] | None = None,
        currency: str | None = None,
    ) -> list[Balance]:
        """The owner's accounts, each with the sum of its postings."""
        total = func.coalesce(func.sum(LedgerPosting.amount_minor), 0)
        statement = (
            select(LedgerAccount.kind, LedgerAccount.currency, total)
            .outerjoin(LedgerPosting, LedgerPosting.account_id == LedgerAccount.id)
            .where(LedgerAccount.owner_id == owner_id)
            .group_by(LedgerAccount.id, LedgerAccount.kind, LedgerAccount.currency)
            .order_by(LedgerAccount.kind, LedgerAccount.currency)
        )
        if kinds is not None:
            statement = statement.where(LedgerAccount.kind.in_(sorted(kinds)))
        if currency is not None:
            statement = statement.where(LedgerAccount.currency == currency)
        return [
            Balance(kind, account_currency, int(amount))
            for kind, account_currency, amount in (await self.session.execute(statement)).all()
        ]

    # --- the invariants (`GET /v1/ledger/check`) ---

    async def count_transactions(self) -> int:
        return int(await self.session.scalar(select(func.count(LedgerTransaction.id))) or 0)

    async def unbalanced_transactions(self) -> list[uuid.UUID]:
        statement = (
            select(LedgerPosting.transaction_id)
            .group_by(LedgerPosting.transaction_id)
            .having(func.sum(LedgerPosting.amount_minor) != 0)
            .order_by(LedgerPosting.transaction_id)
        )
        return list((await self.session.scalars(statement)).all())

    async def mixed_currency_transactions(self) -> list[uuid.UUID]:
        """Transactions with a posting on an account of another currency than theirs."""
        statement = (
            select(LedgerTransaction.id)
            .join(LedgerPosting, LedgerPosting.transaction_id == LedgerTransaction.id)
            .join(LedgerAccount, LedgerAccount.id == LedgerPosting.account_id)
            .where(LedgerAccount.currency != LedgerTransaction.currency)
            .distinct()
            .order_by(LedgerTransaction.id)
        )
        return list((await self.session.scalars(statement)).all())

    async def stored_balance_mismatches(self) -> list[tuple[AccountKey, int, int]]:
        """Accounts whose stored balance is not the sum of their postings."""
        posted = func.coalesce(func.sum(LedgerPosting.amount_minor), 0)
        statement = (
            select(LedgerAccount, posted)
            .outerjoin(LedgerPosting, LedgerPosting.account_id == LedgerAccount.id)
            .where(LedgerAccount.balance_minor.is_not(None))
            .group_by(LedgerAccount.id)
            .having(posted != func.max(LedgerAccount.balance_minor))
        )
        return [
            (account.key, account.balance_minor or 0, int(amount))
            for account, amount in (await self.session.execute(statement)).all()
        ]

    async def negative_buyer_balances(self) -> list[uuid.UUID]:
        posted = func.sum(LedgerPosting.amount_minor)
        statement = (
            select(LedgerAccount.owner_id)
            .join(LedgerPosting, LedgerPosting.account_id == LedgerAccount.id)
            .where(LedgerAccount.kind == LedgerAccountKind.BUYER_BALANCE)
            .group_by(LedgerAccount.id, LedgerAccount.owner_id)
            .having(posted < 0)
        )
        return sorted(owner for owner in (await self.session.scalars(statement)) if owner)

    async def totals_by_currency(self) -> dict[str, int]:
        statement = (
            select(LedgerAccount.currency, func.sum(LedgerPosting.amount_minor))
            .join(LedgerPosting, LedgerPosting.account_id == LedgerAccount.id)
            .group_by(LedgerAccount.currency)
            .order_by(LedgerAccount.currency)
        )
        return {
            currency: int(amount) for currency, amount in (await self.session.execute(statement))
        }

    # --- creators' earnings ---

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
                    LedgerPosting.amount_minor,
                    LedgerAccount.currency,
                    LedgerTransaction.kind,
                    LedgerTransaction.recorded_at,
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
            .where(*self._creator_postings(where, (TransactionKind.PAYOUT,)))
            .order_by(LedgerTransaction.recorded_at.desc(), LedgerTransaction.id)
        )
        return [
            PayoutRow(transaction_id, int(amount), currency, reference or "", recorded_at)
            for transaction_id, amount, currency, reference, recorded_at in (
                await self.session.execute(statement)
            ).all()
        ]
