"""The ledger's queries (on PostgreSQL and SQLite alike)."""

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from typing import cast

from sqlalchemy import (
    Table,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.orm import joinedload

from services.contracts.licensing import LedgerAccountKind, TransactionKind
from services.kit.db import dialect_insert, utcnow
from services.kit.repository import Repository
from services.licensing.ledger.known_accounts import KnownAccounts
from services.licensing.ledger.transaction import Transaction
from services.licensing.models import (
    AccountKey,
    LedgerAccount,
    LedgerPosting,
    LedgerTransaction,
)

_ACCOUNT = cast(Table, LedgerAccount.__table__)
_TRANSACTION = cast(Table, LedgerTransaction.__table__)
_POSTING = cast(Table, LedgerPosting.__table__)
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


@dataclass(frozen=True)
class Balance:
    kind: LedgerAccountKind
    currency: str
    balance_minor: int


class LedgerRepository(Repository[LedgerAccount]):
    model = LedgerAccount

    async def ensure_accounts(self, keys: Collection[AccountKey], known: KnownAccounts) -> None:
        """Create the accounts that do not exist yet, in id order.

        An existing account is neither locked nor written (a conflict with a committed
        row does not wait), so a sale never contends on its creators' or the platform's
        rows; the id order keeps two sales creating the same new accounts from deadlocking.
        Accounts `known` to be committed are skipped without a statement.
        """
        keys = {key for key in keys if not known.knows(self.session, key.id)}
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
            for key in sorted(keys, key=lambda key: key.id)
        ]
        await self.session.execute(
            dialect_insert(self.session)(_ACCOUNT).on_conflict_do_nothing(), rows
        )
        known.remember_on_commit(self.session, [key.id for key in keys])

    async def add(self, transaction: Transaction) -> None:
        """Insert a transaction and its postings: a statement per table, without the flush."""
        await self.session.execute(
            insert(_TRANSACTION),
            {
                "id": transaction.id,
                "kind": transaction.kind,
                "currency": transaction.currency,
                "licence_id": transaction.licence_id,
                "reference": transaction.reference,
                "dedupe_key": transaction.dedupe_key,
                "recorded_by": transaction.recorded_by,
                "recorded_at": transaction.recorded_at,
            },
        )
        await self.session.execute(
            insert(_POSTING),
            [
                {
                    "transaction_id": transaction.id,
                    "account_id": entry.account.id,
                    "amount_minor": entry.amount_minor,
                    "work_id": entry.work_id,
                }
                for entry in transaction.entries
            ],
        )

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
