"""Money: top-ups, payouts, the double-entry ledger and its check."""

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import Field

from services.contracts.licensing._base import MAX_AMOUNT_MINOR, Currency, Reference, Schema
from services.contracts.roles import Role


class MoneyIn(Schema):
    amount_minor: int = Field(gt=0, le=MAX_AMOUNT_MINOR)
    currency: Currency
    reference: Reference


class TopUpIn(MoneyIn):
    """An admin records money received from a buyer (a bank transfer, an invoice paid).

    The reference is the payment's own (a bank transfer's): a top-up under a reference
    already recorded answers that record and credits nothing more."""

    buyer_id: UUID
    buyer_roles: list[Role] | None = Field(
        default=None,
        max_length=len(Role),
        description="The roles the accounts' owner (the gateway) found the buyer's account "
        "to hold when it forwarded this call; None when it did not look. Licensing hears "
        "of new accounts through the outbox, a moment later; honoured from the gateway only.",
    )


class PayoutIn(MoneyIn):
    """An admin records money paid out to a creator, with the payment's reference; a
    payout under a reference already recorded answers that record and pays nothing more."""

    creator_id: UUID


class LedgerAccountKind(StrEnum):
    BUYER_BALANCE = "buyer_balance"
    CREATOR_PAYABLE = "creator_payable"
    PLATFORM_REVENUE = "platform_revenue"
    PAYOUTS = "payouts"
    """Money that has left the marketplace to creators."""
    VAT_PAYABLE = "vat_payable"
    """VAT charged on sales, owed to the tax office."""
    IN_PAYMENT = "in_payment"
    """A creator's money in a payout run's transfer, until the bank's statement says it
    was paid (to PAYOUTS) or returned (back to CREATOR_PAYABLE)."""
    FUNDING = "funding"
    """Money that has entered the marketplace from buyers."""


class TransactionKind(StrEnum):
    TOP_UP = "top_up"
    SALE = "sale"
    REFUND = "refund"
    PAYOUT = "payout"
    """Paid outside Assent, recorded by an admin."""
    PAYOUT_SENT = "payout_sent"
    """A payout run moved creators' balances to "in payment"."""
    PAYOUT_SETTLED = "payout_settled"
    PAYOUT_RETURNED = "payout_returned"


class PostingRead(Schema):
    account_kind: LedgerAccountKind
    owner_id: UUID | None
    amount_minor: int = Field(description="signed; a transaction's postings sum to zero")
    work_id: UUID | None


class TransactionRead(Schema):
    id: UUID
    kind: TransactionKind
    currency: str
    licence_id: UUID | None
    reference: str | None
    recorded_by: UUID
    recorded_at: datetime
    postings: list[PostingRead]


class BalanceRead(Schema):
    owner_id: UUID
    account_kind: LedgerAccountKind
    currency: str
    balance_minor: int


class LedgerCheck(Schema):
    """The ledger's invariants, for operators and auditors: all lists empty when sound."""

    transactions: int
    unbalanced_transactions: list[UUID] = Field(description="postings not summing to zero")
    mixed_currency_transactions: list[UUID]
    balance_mismatches: list[str] = Field(
        description="accounts whose stored balance differs from the sum of their postings"
    )
    negative_buyer_balances: list[UUID]
    totals: dict[str, int] = Field(description="sum of every posting per currency (zero)")
