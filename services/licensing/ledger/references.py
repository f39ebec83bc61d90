"""Payments' references, each recorded once per kind, and the transactions they name."""

import uuid
from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.orm import selectinload

from services.contracts.licensing import PostingRead, TransactionRead
from services.kit.db import dialect_insert
from services.kit.repository import Repository
from services.licensing.models import LedgerPosting, LedgerReference, LedgerTransaction


class LedgerReferenceRepository(Repository[LedgerReference]):
    model = LedgerReference

    async def claim(self, claim: LedgerReference) -> LedgerReference | None:
        """Record the reference; when it was recorded already, the earlier record instead.

        A racer under the same reference waits here (on the key) until the first commits,
        then finds its record; if the first rolled back, the racer's claim goes in."""
        table = cast(Table, LedgerReference.__table__)
        statement = (
            dialect_insert(self.session)(table).on_conflict_do_nothing().returning(table.c.kind)
        )
        inserted = await self.session.execute(
            statement,
            {
                "kind": claim.kind,
                "reference": claim.reference,
                "owner_id": claim.owner_id,
                "amount_minor": claim.amount_minor,
                "currency": claim.currency,
                "transaction_id": claim.transaction_id,
            },
        )
        if inserted.scalar_one_or_none() is not None:
            return None
        earlier = await self.session.scalar(
            select(LedgerReference)
            .where(LedgerReference.kind == claim.kind, LedgerReference.reference == claim.reference)
            .execution_options(populate_existing=True)
        )
        assert earlier is not None  # references are never deleted
        return earlier

    async def transaction(self, transaction_id: uuid.UUID) -> TransactionRead:
        """The recorded transaction, as it was answered when recorded."""
        transaction = await self.session.scalar(
            select(LedgerTransaction)
            .where(LedgerTransaction.id == transaction_id)
            .options(selectinload(LedgerTransaction.postings).joinedload(LedgerPosting.account))
        )
        assert transaction is not None  # its reference's foreign key
        return TransactionRead(
            id=transaction.id,
            kind=transaction.kind,
            currency=transaction.currency,
            licence_id=transaction.licence_id,
            reference=transaction.reference,
            recorded_by=transaction.recorded_by,
            recorded_at=transaction.recorded_at,
            postings=[
                PostingRead(
                    account_kind=posting.account.kind,
                    owner_id=posting.account.owner_id,
                    amount_minor=posting.amount_minor,
                    work_id=posting.work_id,
                )
                for posting in transaction.postings
            ],
        )
