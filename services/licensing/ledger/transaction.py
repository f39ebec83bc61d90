"""A ledger transaction as it is written: its postings, and what it answers."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from services.contracts.licensing import PostingRead, TransactionKind, TransactionRead
from services.licensing.models import AccountKey


@dataclass(frozen=True, slots=True)
class Entry:
    """A posting to be written."""

    account: AccountKey
    amount_minor: int
    work_id: uuid.UUID | None


@dataclass(frozen=True, slots=True)
class Transaction:
    """A balanced transaction to be written: `LedgerRepository.add` turns it into rows."""

    id: uuid.UUID
    kind: TransactionKind
    currency: str
    entries: Sequence[Entry]
    recorded_by: uuid.UUID
    recorded_at: datetime
    licence_id: uuid.UUID | None = None
    reference: str | None = None
    dedupe_key: str | None = None

    def read(self) -> TransactionRead:
        return TransactionRead(
            id=self.id,
            kind=self.kind,
            currency=self.currency,
            licence_id=self.licence_id,
            reference=self.reference,
            recorded_by=self.recorded_by,
            recorded_at=self.recorded_at,
            postings=[
                PostingRead(
                    account_kind=entry.account.kind,
                    owner_id=entry.account.owner_id,
                    amount_minor=entry.amount_minor,
                    work_id=entry.work_id,
                )
                for entry in self.entries
            ],
        )
