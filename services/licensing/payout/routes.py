"""Payouts' routes: creators' payout accounts and payments, admins' runs and bank
statements, labs' bank references."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response, status

from services.contracts.licensing import (
    BankReferenceRead,
    BankStatementIn,
    BankStatementRead,
    PaymentState,
    PayoutAccountConfirmIn,
    PayoutAccountIn,
    PayoutAccountRead,
    PayoutPaymentRead,
    PayoutRunIn,
    PayoutRunRead,
)
from services.contracts.roles import Role
from services.kit.errors import (
    Forbidden,
    InvalidRequest,
    NotFound,
    Unauthenticated,
    error_responses,
)
from services.kit.internal_token import CurrentCaller, require_role
from services.licensing.dependencies import First, Session
from services.licensing.errors import BankStatementRejected, PayoutsOff
from services.licensing.payout import Payouts
from services.licensing.payout.accounts import masked
from services.licensing.payout.repository import PayoutRepository

router = APIRouter(prefix="/v1", tags=["payouts"])


def _payouts(request: Request) -> Payouts:
    payouts: Payouts = request.app.state.payouts
    return payouts


PayoutsDep = Annotated[Payouts, Depends(_payouts)]


@router.post(
    "/payout-accounts",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(Unauthenticated, Forbidden, InvalidRequest),
)
async def request_payout_account(
    change: PayoutAccountIn, caller: CurrentCaller, session: Session, payouts: PayoutsDep
) -> PayoutAccountRead:
    """Ask to be paid to a bank account (creators): it counts once confirmed from the mail."""
    read = await payouts.accounts.request(session, caller, change)
    payouts.mailer.worker.wake()
    return read


@router.post(
    "/payout-accounts/confirm",
    responses=error_responses(Unauthenticated, Forbidden, InvalidRequest, NotFound),
)
async def confirm_payout_account(
    confirmation: PayoutAccountConfirmIn,
    caller: CurrentCaller,
    session: Session,
    payouts: PayoutsDep,
) -> PayoutAccountRead:
    """Confirm an account with the code from its mail (its creator only)."""
    return await payouts.accounts.confirm(session, caller, confirmation)


@router.get("/payout-accounts", responses=error_responses(Unauthenticated, Forbidden))
async def list_payout_accounts(
    caller: CurrentCaller, session: Session, payouts: PayoutsDep
) -> list[PayoutAccountRead]:
    """The caller's payout account in force and any waiting for confirmation (creators)."""
    return await payouts.accounts.mine(session, caller)


@router.post(
    "/payout-runs",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(Unauthenticated, Forbidden, InvalidRequest, PayoutsOff),
)
async def start_payout_run(
    run_in: PayoutRunIn, caller: CurrentCaller, session: Session, payouts: PayoutsDep
) -> PayoutRunRead:
    """Start a payout run (admins), or answer the one running."""
    read = await payouts.runs.start(session, caller, run_in)
    payouts.runner.worker.wake()
    return read


@router.get(
    "/payout-runs/{run_id}", responses=error_responses(Unauthenticated, Forbidden, NotFound)
)
async def get_payout_run(
    run_id: uuid.UUID, caller: CurrentCaller, session: Session, payouts: PayoutsDep
) -> PayoutRunRead:
    """A run and its files so far (admins and auditors)."""
    return await payouts.runs.get(session, caller, run_id)


@router.get(
    "/payout-runs/{run_id}/files/{sequence}",
    response_class=Response,
    responses={
        200: {"content": {"application/xml": {}}},
        **error_responses(Unauthenticated, Forbidden, NotFound),
    },
)
async def get_payout_file(
    run_id: uuid.UUID,
    sequence: Annotated[int, Path(ge=1, le=1_000_000)],
    caller: CurrentCaller,
    session: Session,
    payouts: PayoutsDep,
) -> Response:
    """One of the run's SEPA credit transfer files, for the bank (admins and auditors)."""
    xml = await payouts.runs.file(session, caller, run_id, sequence)
    return Response(xml, media_type="application/xml")


@router.get("/payouts", responses=error_responses(Unauthenticated, Forbidden))
async def list_payouts(
    caller: CurrentCaller,
    session: Session,
    first: First = 100,
    creator_id: uuid.UUID | None = None,
    state: PaymentState | None = None,
) -> list[PayoutPaymentRead]:
    """Transfers to creators: one's own (creators); anyone's (admins, auditors)."""
    if not caller.has(Role.ADMIN, Role.AUDITOR):
        require_role(caller, Role.CREATOR)
        creator_id = caller.account_id
    payments = await PayoutRepository(session).payments_of(creator_id, state, first)
    return [
        PayoutPaymentRead(
            run_id=payment.run_id,
            creator_id=payment.creator_id,
            end_to_end_id=payment.end_to_end_id,
            amount_minor=payment.amount_minor,
            currency=payment.currency,
            holder=payment.holder,
            iban=masked(payment.iban),
            state=payment.state,
            return_reason=payment.return_reason,
            settled_at=payment.settled_at,
        )
        for payment in payments
    ]


@router.post(
    "/bank-statements",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(Unauthenticated, Forbidden, InvalidRequest, BankStatementRejected),
)
async def import_bank_statement(
    statement: BankStatementIn, caller: CurrentCaller, session: Session, payouts: PayoutsDep
) -> BankStatementRead:
    """Apply a bank statement (admins): transfers paid or returned, labs' transfers
    credited; all of it, or, when any entry cannot be applied, none."""
    return await payouts.reconciliation.import_statement(session, caller, statement)


@router.get(
    "/payments/bank/reference", responses=error_responses(Unauthenticated, Forbidden, PayoutsOff)
)
async def get_bank_reference(
    caller: CurrentCaller, session: Session, payouts: PayoutsDep
) -> BankReferenceRead:
    """The reference a lab quotes on its bank transfers, and the account to pay into."""
    return await payouts.references.mine(session, caller)
