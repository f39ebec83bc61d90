"""Creators' payouts as banks see them: the account a creator is paid to, payout runs
written as SEPA credit transfers, bank statements read back, and labs' bank references.

A payout account takes effect once its owner confirms it from the mail sent to them, and
only for runs started after that. A run moves each creator's available balance to "in
payment"; the bank statement then moves it to "paid", or back to "earned" when the bank
returned the transfer, with the bank's reason.
"""

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import Field, StringConstraints

from services.contracts.licensing._base import Currency, Schema
from services.contracts.text import NulFreeStr

Holder = Annotated[
    NulFreeStr, StringConstraints(strip_whitespace=True, min_length=1, max_length=70)
]
"""SEPA carries at most 70 characters of a creditor's name."""


class PayoutAccountState(StrEnum):
    PENDING = "pending"
    """Waiting for its owner to confirm it from the mail."""
    CONFIRMED = "confirmed"
    SUPERSEDED = "superseded"
    """Another account was confirmed after it, or asked for before it was confirmed."""


class PayoutAccountIn(Schema):
    holder: Holder
    iban: str = Field(min_length=5, max_length=50, description="spaces are allowed")
    bic: str = Field(min_length=8, max_length=11)
    email: str | None = Field(
        default=None,
        max_length=320,
        description="where the confirmation goes: the account's address as the accounts' "
        "owner (the gateway) holds it; honoured from the gateway only",
    )


class PayoutAccountRead(Schema):
    id: UUID
    creator_id: UUID
    holder: str
    iban: str = Field(description="masked: country, check digits and the last four")
    bic: str
    bank_country: str
    state: PayoutAccountState
    requested_at: datetime
    confirmed_at: datetime | None


class PayoutAccountRecorded(Schema):
    """`payout_account.requested` and `payout_account.confirmed`: logged in the creator's
    account chain, the IBAN masked."""

    account: PayoutAccountRead


class PayoutAccountConfirmIn(Schema):
    account_id: UUID
    code: str = Field(min_length=1, max_length=64)


class PayoutRunState(StrEnum):
    RUNNING = "running"
    """Moving balances to "in payment"; a crash leaves it here, and it goes on."""
    READY = "ready"
    """Every payment is decided and written to the run's pain.001 files."""


class PayoutRunIn(Schema):
    execution_date: date | None = Field(
        default=None, description="when the bank should execute; the next day by default"
    )


class PayoutFileRead(Schema):
    sequence: int = Field(description="1 for a run's first file")
    message_id: str
    transfers: int
    total_minor: int


class PayoutRunRead(Schema):
    id: UUID
    state: PayoutRunState
    started_at: datetime
    started_by: UUID | None = Field(description="none for a scheduled run")
    execution_date: date
    currency: str
    payments: int
    total_minor: int
    skipped_without_account: int = Field(
        description="creators owed at least the minimum who have no confirmed account"
    )
    files: list[PayoutFileRead] = Field(
        default_factory=list, description="the pain.001 files written so far, in order"
    )


class PaymentState(StrEnum):
    IN_PAYMENT = "in_payment"
    PAID = "paid"
    RETURNED = "returned"


class PayoutPaymentRead(Schema):
    run_id: UUID
    creator_id: UUID
    end_to_end_id: str
    amount_minor: int
    currency: str
    holder: str
    iban: str = Field(description="masked")
    state: PaymentState
    return_reason: str | None = Field(description="the bank's reason code and its meaning")
    settled_at: datetime | None


class BankStatementFormat(StrEnum):
    CAMT053 = "camt053"
    CSV = "csv"


class BankStatementIn(Schema):
    format: BankStatementFormat
    content: str = Field(min_length=1, max_length=32 * 1024 * 1024)


class BankStatementRead(Schema):
    id: UUID
    statement_id: str
    imported_at: datetime
    paid: int = Field(description="transfers the bank executed")
    returned: int = Field(description="transfers the bank returned, back to earned")
    credited: int = Field(description="labs' bank transfers credited to their balances")
    replayed: bool = Field(
        default=False, description="this statement was imported before: nothing changed"
    )


class BankReferenceRead(Schema):
    buyer_id: UUID
    reference: str = Field(description="an ISO 11649 creditor reference (RF…) to quote")
    currency: Currency = "EUR"
    iban: str = Field(description="the platform's account to pay into")
    bic: str
    holder: str
