"""Payouts: creators name the account they are paid to and confirm it from a mail, and
see their transfers; admins start runs, fetch the bank's file and import its statements;
labs fetch the reference to quote on a bank transfer."""

import uuid
from datetime import date

import pydantic
import strawberry
from strawberry.types import Info

from gateway.context import Context
from gateway.types.errors import REFUSALS, Conflict, Forbidden, NotFound, ValidationFailed, failure
from gateway.types.payouts import (
    BankStatementFormat,
    BankStatementImport,
    BankStatementResult,
    BankTransferReference,
    BankTransferReferenceResult,
    PaymentState,
    PayoutAccount,
    PayoutAccountList,
    PayoutAccountResult,
    PayoutAccountsResult,
    PayoutPayment,
    PayoutPaymentList,
    PayoutPaymentsResult,
    PayoutRun,
    PayoutRunResult,
)
from services.contracts import licensing as contract
from services.contracts.catalogue import MAX_PAGE_SIZE
from services.kit import errors


def _id(value: strawberry.ID, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise errors.NotFound(f"no such {what}") from None


@strawberry.type
class PayoutsQuery:
    @strawberry.field(description="Your payout account in force, and any awaiting your code.")
    async def payout_accounts(self, info: Info[Context, None]) -> PayoutAccountsResult:
        ctx = info.context
        try:
            accounts = await ctx.payouts.accounts(ctx.require_principal())
        except errors.AssentError as error:
            return failure(error, Forbidden, *REFUSALS)
        return PayoutAccountList(items=[PayoutAccount.of(account) for account in accounts])

    @strawberry.field(
        description="Transfers to creators, newest run first: your own (creators); any "
        "creator's (admins and auditors)."
    )
    async def payouts(
        self,
        info: Info[Context, None],
        creator_id: strawberry.ID | None = None,
        state: PaymentState | None = None,
        first: int = 100,
    ) -> PayoutPaymentsResult:
        ctx = info.context
        try:
            principal = ctx.require_principal()
            payments = await ctx.payouts.payments(
                principal,
                _id(creator_id, "creator") if creator_id is not None else None,
                contract.PaymentState(state.value) if state is not None else None,
                max(1, min(first, MAX_PAGE_SIZE)),
            )
        except errors.AssentError as error:
            return failure(error, NotFound, Forbidden, *REFUSALS)
        return PayoutPaymentList(items=[PayoutPayment.of(payment) for payment in payments])

    @strawberry.field(description="A payout run and its pain.001 files (admins, auditors).")
    async def payout_run(self, info: Info[Context, None], id: strawberry.ID) -> PayoutRunResult:
        ctx = info.context
        try:
            principal = ctx.require_principal()
            run_id = _id(id, "payout run")
            run = await ctx.payouts.run(principal, run_id)
        except errors.AssentError as error:
            return failure(error, NotFound, Forbidden, *REFUSALS)
        return PayoutRun.of(run)

    @strawberry.field(
        description="The reference to quote on a bank transfer to top up your balance "
        "(buyers), and the account to pay into."
    )
    async def bank_transfer_reference(
        self, info: Info[Context, None]
    ) -> BankTransferReferenceResult:
        ctx = info.context
        try:
            found = await ctx.payouts.bank_reference(ctx.require_principal())
        except errors.AssentError as error:
            return failure(error, Conflict, Forbidden, *REFUSALS)
        return BankTransferReference(
            reference=found.reference,
            iban=found.iban,
            bic=found.bic,
            holder=found.holder,
            currency=found.currency,
        )


@strawberry.type
class PayoutsMutation:
    @strawberry.mutation(
        description="Ask to be paid to a bank account (creators). A mail with a code goes "
        "to your address; the account counts for payout runs started after you confirm."
    )
    async def set_payout_account(
        self, info: Info[Context, None], holder: str, iban: str, bic: str
    ) -> PayoutAccountResult:
        ctx = info.context
        try:
            principal = ctx.require_principal()
            change = contract.PayoutAccountIn(holder=holder, iban=iban, bic=bic)
            account = await ctx.payouts.request_account(principal, change)
        except (errors.AssentError, pydantic.ValidationError) as error:
            return failure(error, ValidationFailed, Forbidden, *REFUSALS)
        return PayoutAccount.of(account)

    @strawberry.mutation(description="Confirm a payout account with the code from its mail.")
    async def confirm_payout_account(
        self, info: Info[Context, None], account_id: strawberry.ID, code: str
    ) -> PayoutAccountResult:
        ctx = info.context
        try:
            principal = ctx.require_principal()
            confirmation = contract.PayoutAccountConfirmIn(
                account_id=_id(account_id, "payout account"), code=code
            )
            account = await ctx.payouts.confirm_account(principal, confirmation)
        except (errors.AssentError, pydantic.ValidationError) as error:
            return failure(error, ValidationFailed, NotFound, Forbidden, *REFUSALS)
        return PayoutAccount.of(account)

    @strawberry.mutation(
        description="Start a payout run (admins), or answer the one running. Conflict code "
        "PayoutsOff: no platform bank account is configured."
    )
    async def start_payout_run(
        self, info: Info[Context, None], execution_date: date | None = None
    ) -> PayoutRunResult:
        ctx = info.context
        try:
            principal = ctx.require_principal()
            run = await ctx.payouts.start_run(
                principal, contract.PayoutRunIn(execution_date=execution_date)
            )
        except (errors.AssentError, pydantic.ValidationError) as error:
            return failure(error, Conflict, ValidationFailed, Forbidden, *REFUSALS)
        return PayoutRun.of(run)

    @strawberry.mutation(
        description="Apply a bank statement (admins): camt.053 XML, or the CSV the README "
        "documents. All of it applies, or, when an entry cannot, none of it."
    )
    async def import_bank_statement(
        self, info: Info[Context, None], format: BankStatementFormat, content: str
    ) -> BankStatementResult:
        ctx = info.context
        try:
            principal = ctx.require_principal()
            statement = contract.BankStatementIn(
                format=contract.BankStatementFormat(format.value), content=content
            )
            imported = await ctx.payouts.import_statement(principal, statement)
        except (errors.AssentError, pydantic.ValidationError) as error:
            return failure(error, ValidationFailed, Forbidden, *REFUSALS)
        return BankStatementImport.of(imported)
