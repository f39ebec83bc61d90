"""Money's routes: top-ups, payouts, balances and the ledger's check."""

import uuid

from fastapi import APIRouter, status

from services.contracts.licensing import (
    BalanceRead,
    LedgerCheck,
    PayoutIn,
    TopUpIn,
    TransactionRead,
)
from services.contracts.roles import Role
from services.kit.errors import Forbidden, InvalidRequest, Unauthenticated, error_responses
from services.kit.internal_token import CurrentCaller, require_role
from services.licensing.dependencies import Ledger, Payments, Session
from services.licensing.errors import (
    InsufficientFunds,
    ReferenceReused,
)

router = APIRouter(prefix="/v1", tags=["licensing"])


@router.post(
    "/ledger/top-ups",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(Unauthenticated, Forbidden, InvalidRequest, ReferenceReused),
)
async def top_up(
    top_up: TopUpIn, caller: CurrentCaller, session: Session, payments: Payments
) -> TransactionRead:
    """Record money received from a buyer (admins): it credits their prepaid balance, once
    per reference (a retry answers the same transaction)."""
    require_role(caller, Role.ADMIN)
    return await payments.top_up(session, caller, top_up)


@router.post(
    "/ledger/payouts",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(
        Unauthenticated, Forbidden, InvalidRequest, InsufficientFunds, ReferenceReused
    ),
)
async def payout(
    payout: PayoutIn, caller: CurrentCaller, session: Session, payments: Payments
) -> TransactionRead:
    """Record money paid to a creator (admins), at most what they are owed, once per
    reference (a retry answers the same transaction)."""
    require_role(caller, Role.ADMIN)
    return await payments.payout(session, caller, payout)


@router.get("/ledger/check", responses=error_responses(Unauthenticated, Forbidden))
async def check_ledger(caller: CurrentCaller, session: Session, ledger: Ledger) -> LedgerCheck:
    """The ledger's invariants (admins and auditors): every list is empty when it is sound."""
    require_role(caller, Role.ADMIN, Role.AUDITOR)
    return await ledger.check(session)


@router.get("/balances", responses=error_responses(Unauthenticated, Forbidden, InvalidRequest))
async def get_balances(
    caller: CurrentCaller, session: Session, ledger: Ledger, owner_id: uuid.UUID | None = None
) -> list[BalanceRead]:
    """An account holder's balances per currency: one's own; anyone's for admins, auditors."""
    return await ledger.balances(session, caller, owner_id)
