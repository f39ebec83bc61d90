"""The ledger: double-entry transactions, balances, and the check of its invariants."""

from datetime import datetime
from typing import Annotated

import strawberry

from gateway.types.catalogue import Money
from gateway.types.errors import (
    Conflict,
    Forbidden,
    InsufficientFunds,
    Refusals,
    ValidationFailed,
)
from gateway.types.licensing._common import (
    LedgerAccountKind,
    TransactionKind,
    money,
    optional_id,
)
from services.contracts import licensing as contract


@strawberry.type
class Posting:
    account_kind: LedgerAccountKind
    owner_id: strawberry.ID | None
    amount: Money = strawberry.field(description="Signed; a transaction sums to zero.")
    work_id: strawberry.ID | None


@strawberry.type
class LedgerTransaction:
    id: strawberry.ID
    kind: TransactionKind
    licence_id: strawberry.ID | None
    reference: str | None
    recorded_at: datetime
    postings: list[Posting]

    @classmethod
    def of(cls, tx: contract.TransactionRead) -> "LedgerTransaction":
        return cls(
            id=strawberry.ID(str(tx.id)),
            kind=tx.kind,
            licence_id=optional_id(tx.licence_id),
            reference=tx.reference,
            recorded_at=tx.recorded_at,
            postings=[
                Posting(
                    account_kind=p.account_kind,
                    owner_id=optional_id(p.owner_id),
                    amount=money(p.amount_minor, tx.currency),
                    work_id=optional_id(p.work_id),
                )
                for p in tx.postings
            ],
        )


@strawberry.type
class Balance:
    account_kind: LedgerAccountKind
    balance: Money

    @classmethod
    def of(cls, balance: contract.BalanceRead) -> "Balance":
        return cls(
            account_kind=balance.account_kind,
            balance=money(balance.balance_minor, balance.currency),
        )


@strawberry.type
class Balances:
    owner_id: strawberry.ID
    balances: list[Balance]


@strawberry.type
class LedgerCheck:
    transactions: int
    unbalanced_transactions: list[strawberry.ID]
    mixed_currency_transactions: list[strawberry.ID]
    balance_mismatches: list[str]
    negative_buyer_balances: list[strawberry.ID]
    sound: bool = strawberry.field(description="Every invariant holds.")


@strawberry.type
class MoneyRecorded:
    transaction: LedgerTransaction


BalancesResult = Annotated[
    Balances | ValidationFailed | Forbidden | Refusals, strawberry.union("BalancesResult")
]
LedgerCheckResult = Annotated[
    LedgerCheck | Forbidden | Refusals, strawberry.union("LedgerCheckResult")
]
RecordMoneyResult = Annotated[
    MoneyRecorded | InsufficientFunds | Conflict | ValidationFailed | Forbidden | Refusals,
    strawberry.union("RecordMoneyResult"),
]
