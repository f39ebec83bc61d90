"""Payouts: where a creator is paid, the transfers made to them, admins' payout runs and
bank statements, and the reference a lab quotes on a bank transfer."""

import uuid
from datetime import date, datetime
from enum import Enum
from typing import Annotated

import strawberry
from strawberry.types import Info

from gateway.context import Context
from gateway.types.catalogue import Money
from gateway.types.errors import Conflict, Forbidden, NotFound, Refusals, ValidationFailed
from gateway.types.licensing import money
from services.contracts import licensing as contract


@strawberry.enum(description="Whether an account is in force for payout runs.")
class PayoutAccountState(Enum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    SUPERSEDED = "superseded"


@strawberry.enum
class PaymentState(Enum):
    IN_PAYMENT = "in_payment"
    PAID = "paid"
    RETURNED = "returned"


@strawberry.enum
class PayoutRunState(Enum):
    RUNNING = "running"
    READY = "ready"


@strawberry.enum
class BankStatementFormat(Enum):
    CAMT053 = "camt053"
    CSV = "csv"


@strawberry.type(description="A bank account a creator is paid to.")
class PayoutAccount:
    id: strawberry.ID
    holder: str
    iban: str = strawberry.field(description="Masked: country, check digits, last four.")
    bic: str
    bank_country: str
    state: PayoutAccountState
    requested_at: datetime
    confirmed_at: datetime | None

    @classmethod
    def of(cls, account: contract.PayoutAccountRead) -> "PayoutAccount":
        return cls(
            id=strawberry.ID(str(account.id)),
            holder=account.holder,
            iban=account.iban,
            bic=account.bic,
            bank_country=account.bank_country,
            state=PayoutAccountState(account.state.value),
            requested_at=account.requested_at,
            confirmed_at=account.confirmed_at,
        )


@strawberry.type(description="One transfer of a payout run to a creator.")
class PayoutPayment:
    run_id: strawberry.ID
    creator_id: strawberry.ID
    end_to_end_id: str
    amount: Money
    holder: str
    iban: str
    state: PaymentState
    return_reason: str | None = strawberry.field(
        description="Why the bank sent it back, when it did: the money is yours again."
    )
    settled_at: datetime | None

    @classmethod
    def of(cls, payment: contract.PayoutPaymentRead) -> "PayoutPayment":
        return cls(
            run_id=strawberry.ID(str(payment.run_id)),
            creator_id=strawberry.ID(str(payment.creator_id)),
            end_to_end_id=payment.end_to_end_id,
            amount=money(payment.amount_minor, payment.currency),
            holder=payment.holder,
            iban=payment.iban,
            state=PaymentState(payment.state.value),
            return_reason=payment.return_reason,
            settled_at=payment.settled_at,
        )


@strawberry.type(description="One pain.001.001.03 file of a payout run, for the bank.")
class PayoutFile:
    run_id: strawberry.Private[uuid.UUID]
    sequence: int
    message_id: str
    transfers: int
    total: Money

    @strawberry.field(description="The SEPA credit transfer file itself (XML).")
    async def pain001(self, info: Info[Context, None]) -> str:
        ctx = info.context
        return await ctx.payouts.run_file(ctx.require_principal(), self.run_id, self.sequence)


@strawberry.type(
    description="A payout run: its transfers go to the bank in pain.001 files of at most "
    "10,000 transfers each (a setting)."
)
class PayoutRun:
    id: strawberry.ID
    state: PayoutRunState
    started_at: datetime
    execution_date: date
    payments: int
    total: Money
    skipped_without_account: int
    files: list[PayoutFile]

    @classmethod
    def of(cls, run: contract.PayoutRunRead) -> "PayoutRun":
        return cls(
            id=strawberry.ID(str(run.id)),
            state=PayoutRunState(run.state.value),
            started_at=run.started_at,
            execution_date=run.execution_date,
            payments=run.payments,
            total=money(run.total_minor, run.currency),
            skipped_without_account=run.skipped_without_account,
            files=[
                PayoutFile(
                    run_id=run.id,
                    sequence=file.sequence,
                    message_id=file.message_id,
                    transfers=file.transfers,
                    total=money(file.total_minor, run.currency),
                )
                for file in run.files
            ],
        )


@strawberry.type
class BankStatementImport:
    id: strawberry.ID
    statement_id: str
    imported_at: datetime
    paid: int
    returned: int
    credited: int
    replayed: bool = strawberry.field(description="Imported before: nothing changed now.")

    @classmethod
    def of(cls, statement: contract.BankStatementRead) -> "BankStatementImport":
        return cls(
            id=strawberry.ID(str(statement.id)),
            statement_id=statement.statement_id,
            imported_at=statement.imported_at,
            paid=statement.paid,
            returned=statement.returned,
            credited=statement.credited,
            replayed=statement.replayed,
        )


@strawberry.type(description="Quote the reference on a bank transfer to top up your balance.")
class BankTransferReference:
    reference: str
    iban: str
    bic: str
    holder: str
    currency: str


@strawberry.type
class PayoutAccountList:
    items: list[PayoutAccount]


@strawberry.type
class PayoutPaymentList:
    items: list[PayoutPayment]


PayoutAccountResult = Annotated[
    PayoutAccount | ValidationFailed | NotFound | Forbidden | Refusals,
    strawberry.union("PayoutAccountResult"),
]
PayoutAccountsResult = Annotated[
    PayoutAccountList | Forbidden | Refusals, strawberry.union("PayoutAccountsResult")
]
PayoutPaymentsResult = Annotated[
    PayoutPaymentList | NotFound | Forbidden | Refusals, strawberry.union("PayoutPaymentsResult")
]
PayoutRunResult = Annotated[
    PayoutRun | Conflict | NotFound | Forbidden | ValidationFailed | Refusals,
    strawberry.union("PayoutRunResult"),
]
BankStatementResult = Annotated[
    BankStatementImport | ValidationFailed | Forbidden | Refusals,
    strawberry.union("BankStatementResult"),
]
BankTransferReferenceResult = Annotated[
    BankTransferReference | Conflict | Forbidden | Refusals,
    strawberry.union("BankTransferReferenceResult"),
]
